# Reports what the handler learns about TLS.
def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    cert = request.peer_certificate
    subject = dict(x[0] for x in cert['subject']) if cert and cert.get('subject') else {}
    request.ws_stream.send_message('https=%s cert=%s' % (
        bool(request.is_https()), subject.get('commonName') or subject.get('organizationName')
        or (None if not cert else 'present')))
    request.ws_stream.receive_message()
