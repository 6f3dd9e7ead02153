# web_socket_do_extra_handshake's choices, selected by the query string.
from mod_pywebsocket import handshake


def web_socket_do_extra_handshake(request):
    mode = request.ws_resource.partition('?')[2]
    if mode == 'status401':
        raise handshake.HandshakeException('no entry', 401)
    if mode == 'status_none':
        raise handshake.HandshakeException('default status')
    if mode == 'abort':
        raise handshake.AbortedByUserException('silently')
    if mode == 'value_error':
        raise ValueError('a bug in the handler')
    if mode == 'own_response':
        request.connection.write(b'HTTP/1.1 418 I\'m a teapot\r\nContent-Length: 0\r\n\r\n')
        raise handshake.AbortedByUserException('answered by the handler')
    if mode == 'prefix_then_101':
        request.connection.write(b'X-Garbage: before the status line\r\n')
    if mode == 'extra_headers':
        request.extra_headers.append(('X-Verbatim', 'a\r\nX-Injected: b'))
    if mode == 'choose_protocol':
        request.ws_protocol = request.ws_requested_protocols[1]
    if mode == 'bad_protocol':
        request.ws_protocol = 'not-offered'


def web_socket_transfer_data(request):
    request.ws_stream.send_message('fields: %s|%s|%s|%s|%s|%s' % (
        request.ws_resource, request.uri, request.method, request.protocol,
        request.headers_in.get('x-custom'), request.ws_requested_protocols))
    request.ws_stream.send_message('addresses: %s %s' % (
        request.connection.remote_addr[0], request.connection.local_addr[0]))
    request.ws_stream.receive_message()
