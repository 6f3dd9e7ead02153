# MessageReceiver and MessageSender, as their documentation shows them.
from mod_pywebsocket import msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    mode = request.ws_resource.partition('?')[2]
    sender = msgutil.MessageSender(request)
    if mode == 'onmessage':
        def onmessage(message):
            if message is not None:
                sender.send_nowait('callback: %s' % message)
        receiver = msgutil.MessageReceiver(request, onmessage)
        receiver.join(30)
        return
    receiver = msgutil.MessageReceiver(request)
    while True:
        message = receiver.receive()
        if message is None:
            return
        sender.send('queued: %s' % message)
