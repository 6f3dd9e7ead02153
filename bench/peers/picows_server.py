"""Echo server: picows (Cython), compression off (picows has none).

picows_server.py PORT [--uvloop]    (asyncio's own loop unless --uvloop)
"""

import asyncio
import sys

from picows import WSListener, WSMsgType, ws_create_server


class Echo(WSListener):
    def on_ws_frame(self, transport, frame):
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
            transport.send(frame.msg_type, frame.get_payload_as_memoryview())


async def main(port):
    server = await ws_create_server(
        lambda request: Echo(), "127.0.0.1", port, max_frame_size=64 * 1024 * 1024
    )
    await server.serve_forever()


if "--uvloop" in sys.argv[2:]:
    import uvloop

    uvloop.run(main(int(sys.argv[1])))
else:
    asyncio.run(main(int(sys.argv[1])))
