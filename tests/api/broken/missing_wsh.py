def web_socket_do_extra_handshake(request):
    pass
