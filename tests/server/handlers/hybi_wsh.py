# Reports the request's version fields, tries a binary send, then echoes.
from mod_pywebsocket import msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    msgutil.send_message(request, 'version=%s origin=%s location=%s protocol=%s' % (
        request.ws_version, request.ws_origin, getattr(request, 'ws_location', None),
        request.ws_protocol))
    try:
        request.ws_stream.send_message(b'\x01', binary=True)
        msgutil.send_message(request, 'binary sent')
    except msgutil.BadOperationException:
        msgutil.send_message(request, 'binary refused')
    while True:
        message = msgutil.receive_message(request)
        if message is None:
            return
        msgutil.send_message(request, message)
