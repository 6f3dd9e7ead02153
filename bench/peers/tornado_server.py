"""Echo server: tornado, compression off (its default)."""

import asyncio
import sys

import tornado.web
import tornado.websocket


class Echo(tornado.websocket.WebSocketHandler):
    def check_origin(self, origin):
        return True

    def on_message(self, message):
        self.write_message(message, binary=isinstance(message, bytes))


async def main(port):
    app = tornado.web.Application([("/", Echo)], websocket_max_message_size=64 * 1024 * 1024)
    app.listen(port, address="127.0.0.1")
    await asyncio.Event().wait()


asyncio.run(main(int(sys.argv[1])))
