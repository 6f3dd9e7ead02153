# What the stream refuses, reported as messages, then a fragmented send.
from mod_pywebsocket import msgutil


def _try(request, label, call):
    try:
        call()
        request.ws_stream.send_message('%s: allowed' % label)
    except msgutil.BadOperationException:
        request.ws_stream.send_message('%s: refused' % label)


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    stream = request.ws_stream
    _try(request, 'str as binary', lambda: stream.send_message('x', binary=True))
    _try(request, 'ping of 126 bytes', lambda: stream.send_ping(b'x' * 126))
    for code in (999, 1005, 1006, 1015, 5000):
        _try(request, 'close %d' % code, lambda code=code: stream.close_connection(code))
    stream.send_message('frag', end=False)
    stream.send_message('ment', end=False)
    stream.send_message('ed', end=True)
    stream.send_message(b'\x01\x02', end=False, binary=True)
    stream.send_message(b'\x03', end=True, binary=True)
    stream.close_connection(1000, 'closing first')
    _try(request, 'send after close', lambda: stream.send_message('late'))
