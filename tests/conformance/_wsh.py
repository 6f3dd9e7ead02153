# Serves "/" with -w tests/conformance --engine asyncio: the async twin of
# example/_wsh.py, for scripts/conformance.py (kept out of example/, which the
# default threaded engine serves and which cannot run async handlers).


async def web_socket_do_extra_handshake(request):
    pass


async def web_socket_transfer_data(request):
    stream = request.ws_stream
    while True:
        message = await stream.receive_message()
        if message is None:
            return
        await stream.send_message(message, binary=isinstance(message, bytes))
