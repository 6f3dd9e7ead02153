# Serves "/" when this directory is the handler root (-w example/async, with
# --engine asyncio): the async twin of example/_wsh.py, for the conformance suite.
# Under -w example it is /async/, and only the asyncio engine runs it.


async def web_socket_do_extra_handshake(request):
    pass


async def web_socket_transfer_data(request):
    stream = request.ws_stream
    while True:
        message = await stream.receive_message()
        if message is None:
            return
        await stream.send_message(message, binary=isinstance(message, bytes))
