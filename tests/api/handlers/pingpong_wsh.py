# on_ping_handler / on_pong_handler replace the automatic behaviour; send_ping pings.
from mod_pywebsocket import msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    def on_ping(request, payload):
        request.ws_stream.send_message('ping seen: %s' % payload.decode())

    def on_pong(request, payload):
        request.ws_stream.send_message('pong seen: %s' % payload.decode())

    request.on_ping_handler = on_ping
    request.on_pong_handler = on_pong
    msgutil.send_ping(request, 'from server')
    while msgutil.receive_message(request) is not None:
        pass
