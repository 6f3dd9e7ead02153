# Waits for messages and never sends: shutdown must close it with 1001.


def web_socket_do_extra_handshake(request):
    pass


async def web_socket_transfer_data(request):
    while await request.ws_stream.receive_message() is not None:
        pass
