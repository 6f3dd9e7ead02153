# Behaviours pywebsocket3's handlers see, selected by the query string.
import time

from mod_pywebsocket import common, msgutil

# Seconds each close_connection(1001) took, read by the test through the module.
close_seconds = []
# What each close_connection() in 'close_wait' mode ended with.
close_outcomes = []


def web_socket_do_extra_handshake(request):
    mode = request.ws_resource.partition('?')[2]
    if mode.startswith('stall'):
        # WebKit's handshake-timeout tests stall here on purpose.
        time.sleep(float(mode[len('stall'):]))
    if mode == 'wait_for_byte':
        # A hook that waits on the connection itself (for a byte the client sends late).
        request.connection.read(1)


def web_socket_transfer_data(request):
    mode = request.ws_resource.partition('?')[2]
    if mode == 'cookie':
        # A WebKit cookie test: headers_in['Cookie'] is None when none was sent.
        cookie = request.headers_in['Cookie']
        request.ws_stream.send_message('cookie: %r' % (cookie,))
    elif mode == 'going_away':
        started = time.monotonic()
        request.ws_stream.close_connection(common.STATUS_GOING_AWAY)
        close_seconds.append(time.monotonic() - started)
        return
    elif mode == 'receive':
        request.ws_stream.receive_message()
    elif mode == 'close_wait':
        try:
            request.ws_stream.close_connection()
            close_outcomes.append('answered')
        except msgutil.ConnectionTerminatedException:
            close_outcomes.append('terminated')
        return
    elif mode == 'raw_read':
        # pywebsocket3's connection.read returns what has arrived, up to n.
        data = request.connection.read(12)
        request.ws_stream.send_message('read %d' % len(data))
        return
    request.ws_stream.send_message('done')
