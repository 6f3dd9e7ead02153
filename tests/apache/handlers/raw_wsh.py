# Reads 5 raw bytes with request.connection.read and writes a hand-made frame back.
from pywebsocket3 import stream


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    data = request.connection.read(5)
    request.connection.write(stream.create_text_frame('raw:' + data.decode('ascii')))
    request.ws_stream.receive_message()
