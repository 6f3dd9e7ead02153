# Sends COUNT messages of 16 KiB, more than one flow-control window, then echoes.
COUNT = 64


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    for _ in range(COUNT):
        request.ws_stream.send_message(b'x' * 16384, binary=True)
    request.ws_stream.send_message('flood done')
    request.ws_stream.receive_message()
