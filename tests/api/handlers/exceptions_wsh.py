# Raises the exception a message names, to check the close code it maps to.
from mod_pywebsocket import handshake, msgutil, stream

EXCEPTIONS = {
    'bad_operation': msgutil.BadOperationException,
    'invalid_frame': msgutil.InvalidFrameException,
    'unsupported': msgutil.UnsupportedFrameException,
    'invalid_utf8': stream.InvalidUTF8Exception,
    'terminated': msgutil.ConnectionTerminatedException,
    'value_error': ValueError,
    'abort': handshake.AbortedByUserException,
}


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    name = request.ws_stream.receive_message()
    raise EXCEPTIONS[name]('raised on request: %s' % name)
