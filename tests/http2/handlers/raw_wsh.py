# request.connection.write: a hand-made frame goes into the stream's DATA.
from mod_pywebsocket import stream


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    request.connection.write(stream.create_text_frame('hand-made'))
    request.ws_stream.receive_message()
