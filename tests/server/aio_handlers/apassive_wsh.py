# An async passive closing handshake and ping hook.


async def web_socket_do_extra_handshake(request):
    pass


async def web_socket_passive_closing_handshake(request):
    return 4001, "passive"


async def web_socket_transfer_data(request):
    async def on_ping(req, payload):
        await req.ws_stream.send_message("ping:" + payload.decode())

    request.on_ping_handler = on_ping
    while await request.ws_stream.receive_message() is not None:
        pass
