# A handler bug after the handshake: pywebsocket3 drops the connection with no Close.


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    request.ws_stream.receive_message()
    raise RuntimeError('a bug in the handler')
