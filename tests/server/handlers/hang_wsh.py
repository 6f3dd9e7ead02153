# Never returns and never touches its stream: cutting the socket cannot end it.
import time


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    while True:
        time.sleep(3600)
