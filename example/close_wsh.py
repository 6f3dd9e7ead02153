# Closes with the code and reason it is sent: send "1000 bye" (or just "3001").

import struct

from mod_pywebsocket import common


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    while True:
        line = request.ws_stream.receive_message()
        if line is None:
            return
        code, _, reason = line.partition(' ')
        request.ws_stream.close_connection(int(code), reason)
        return


def web_socket_passive_closing_handshake(request):
    # Echo back the peer's code and reason.
    code = request.ws_close_code
    if code == common.STATUS_NO_STATUS_RECEIVED:
        return None, ''
    return code, request.ws_close_reason
