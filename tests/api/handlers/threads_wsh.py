# One thread sends while the handler's thread receives, on one connection.
import threading

COUNT = 500


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    def sender():
        for i in range(COUNT):
            request.ws_stream.send_message('from sender %d' % i)

    thread = threading.Thread(target=sender)
    thread.start()
    received = 0
    while received < COUNT:
        message = request.ws_stream.receive_message()
        if message is None:
            return
        received += 1
    thread.join()
    request.ws_stream.send_message('received %d' % received)
    request.ws_stream.receive_message()
