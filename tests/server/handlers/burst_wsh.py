# Sends the number of messages the client asks for, counting those the stream
# accepted (a shutdown may stop it midway), then waits for the client.
sent = []


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    count = int(request.ws_stream.receive_message())
    accepted = 0
    try:
        for i in range(count):
            request.ws_stream.send_message('message %d' % i)
            accepted += 1
    finally:
        sent.append(accepted)
    request.ws_stream.receive_message()
