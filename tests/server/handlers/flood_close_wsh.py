# A sender thread floods a peer that does not read; the handler's own thread
# then calls close_connection() and records how long it took.
import threading
import time

took = []


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    def flood():
        try:
            while True:
                request.ws_stream.send_message(b'x' * 65536, binary=True)
        except Exception:
            pass

    threading.Thread(target=flood, daemon=True).start()
    request.ws_stream.receive_message()  # the client's word: by now the sender is stuck
    time.sleep(1.0)
    started = time.monotonic()
    request.ws_stream.close_connection()
    took.append(time.monotonic() - started)
