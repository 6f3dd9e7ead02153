# Tunes permessage-deflate from the handler and reports what was agreed.
from mod_pywebsocket.extensions import PerMessageDeflateExtensionProcessor


def web_socket_do_extra_handshake(request):
    for processor in request.ws_extension_processors:
        if isinstance(processor, PerMessageDeflateExtensionProcessor):
            processor.set_client_max_window_bits(10)
            processor.set_client_no_context_takeover(True)
            processor.disable_outgoing_compression()


def web_socket_transfer_data(request):
    names = [e.name() for e in request.ws_extensions or []]
    request.ws_stream.send_message('deflate=%s extensions=%s' % (request.ws_deflate, names))
    request.ws_stream.receive_message()
