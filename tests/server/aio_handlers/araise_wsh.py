# Errors escaping an async handler: the same close codes as a blocking one.
from mod_pywebsocket import msgutil


async def web_socket_do_extra_handshake(request):
    if request.ws_resource.endswith("?reject"):
        raise ValueError("refused")  # 403


async def web_socket_transfer_data(request):
    message = await request.ws_stream.receive_message()
    if message == "bad-operation":
        raise msgutil.BadOperationException("bad")  # 1011
    if message == "binary-str":
        await request.ws_stream.send_message("x", binary=True)  # BadOperationException: 1011
    raise RuntimeError("a bug")  # TCP dropped without a Close
