# The benchmark's echo handler for the asyncio engine: the async twin of
# bench/handlers/_wsh.py (run by "ours-asyncio", --engine asyncio).


async def web_socket_do_extra_handshake(request):
    pass


async def web_socket_transfer_data(request):
    stream = request.ws_stream
    while True:
        message = await stream.receive_message()
        if message is None:
            return
        await stream.send_message(message, binary=isinstance(message, bytes))
