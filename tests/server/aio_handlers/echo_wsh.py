# Echo every message back: text as text, binary as binary.
# Sending "Goodbye" makes the server close the connection.


_GOODBYE_MESSAGE = "Goodbye"


def web_socket_do_extra_handshake(request):
    # Accept every connection; a handler may inspect request.ws_origin here.
    pass


def web_socket_transfer_data(request):
    while True:
        line = request.ws_stream.receive_message()
        if line is None:
            return
        if isinstance(line, str):
            request.ws_stream.send_message(line, binary=False)
            if line == _GOODBYE_MESSAGE:
                return
        else:
            request.ws_stream.send_message(line, binary=True)
