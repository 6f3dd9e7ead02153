# Sends 64 KiB binary messages until a send fails (its peer is not reading),
# then records what the failing call raised and what the call after it raised.
progress = [0]
outcomes = []


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    chunk = b'x' * 65536
    try:
        while True:
            request.ws_stream.send_message(chunk, binary=True)
            progress[0] += 1
    except Exception as exc:
        first = type(exc).__name__
    try:
        request.ws_stream.send_message('after the failure')
        second = 'nothing'
    except Exception as exc:
        second = type(exc).__name__
    outcomes.append((first, second))
