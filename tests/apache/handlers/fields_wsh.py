# Sends back what the request looked like, one field per message.
from mod_pywebsocket import msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    for value in (request.ws_resource, request.uri, request.unparsed_uri, request.method,
                  request.headers_in.get('x-test'), str(request.ws_version),
                  str(request.ws_origin), str(bool(request.is_https()))):
        msgutil.send_message(request, value)
    msgutil.receive_message(request)
