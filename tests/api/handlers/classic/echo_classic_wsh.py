# Written for mod_pywebsocket: the older import names and constants.
from mod_pywebsocket import common, handshake, msgutil, stream


def web_socket_do_extra_handshake(request):
    if request.ws_origin == 'http://evil.example':
        raise handshake.HandshakeException('origin refused', common.HTTP_STATUS_FORBIDDEN)


def web_socket_transfer_data(request):
    while True:
        line = request.ws_stream.receive_message()
        if line is None:
            return
        if line == 'raw':
            # Hand-made frames through the raw connection, as old test suites do.
            request.connection.write(stream.create_text_frame('made by hand'))
            request.connection.write(stream.create_binary_frame(b'\x00\x01'))
            continue
        request.ws_stream.send_message(line, binary=not isinstance(line, str))
