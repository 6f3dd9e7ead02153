# web_socket_do_extra_handshake's choices, selected by the query string.
from mod_pywebsocket import handshake


def web_socket_do_extra_handshake(request):
    mode = request.ws_resource.partition('?')[2]
    if mode == 'status401':
        raise handshake.HandshakeException('no entry', 401)
    if mode == 'value_error':
        raise ValueError('a bug in the handler')
    if mode == 'abort':
        raise handshake.AbortedByUserException('silently')
    if mode == 'choose_protocol':
        request.ws_protocol = request.ws_requested_protocols[1]
    if mode == 'write_first':
        request.connection.write(b'\x81\x05early')  # a hand-made text frame
    if mode == 'extra_headers':
        request.extra_headers.append(('X-Extra', 'yes'))


def web_socket_transfer_data(request):
    request.ws_stream.send_message('fields: %s|%s|%s|%s|%s|%s|%s' % (
        request.ws_resource, request.method, request.protocol, request.headers_in['Host'],
        request.ws_version, request.ws_protocol, request.ws_origin))
    request.ws_stream.receive_message()
