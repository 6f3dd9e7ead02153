# Refuses compression for this connection, then echoes.
def web_socket_do_extra_handshake(request):
    request.ws_extension_processors = []


def web_socket_transfer_data(request):
    while True:
        message = request.ws_stream.receive_message()
        if message is None:
            return
        request.ws_stream.send_message(message, binary=isinstance(message, bytes))
