# Receives until the peer goes, and logs how the handler's receive ended.
import logging

from mod_pywebsocket import msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    try:
        while request.ws_stream.receive_message() is not None:
            pass
    except msgutil.ConnectionTerminatedException as exc:
        logging.getLogger('tests.http2.hold').warning('hold ended: %s: %s',
                                                      type(exc).__name__, exc)
        raise
