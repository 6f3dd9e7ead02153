# Rejects the handshake with an ordinary exception: the client gets 403.
def web_socket_do_extra_handshake(request):
    raise ValueError('not today')


def web_socket_transfer_data(request):
    pass
