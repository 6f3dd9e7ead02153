# An async echo handler: text as text, binary as binary; "close:<code>" closes with it.


async def web_socket_do_extra_handshake(request):
    pass


async def web_socket_transfer_data(request):
    stream = request.ws_stream
    while True:
        message = await stream.receive_message()
        if message is None:
            return
        if isinstance(message, str) and message.startswith("close:"):
            await stream.close_connection(int(message[6:]), "bye")
            return
        if isinstance(message, str) and message.startswith("fragments:"):
            for piece in message[10:]:
                await stream.send_message(piece, end=False)
            await stream.send_message("", end=True)
            continue
        await stream.send_message(message, binary=isinstance(message, bytes))
