# The passive closing handshake, chosen by the query: ?code, ?none, ?abort.
from mod_pywebsocket import handshake

closes = []


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    while request.ws_stream.receive_message() is not None:
        pass
    closes.append((request.ws_close_code, request.ws_close_reason))


def web_socket_passive_closing_handshake(request):
    mode = request.ws_resource.partition('?')[2]
    if mode == 'code':
        return 4001, 'custom reply'
    if mode == 'none':
        return None, ''
    if mode == 'abort':
        raise handshake.AbortedByUserException('drop it')
    return request.ws_close_code, request.ws_close_reason
