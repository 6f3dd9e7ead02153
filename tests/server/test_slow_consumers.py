"""A peer that stops reading costs only itself: the chat example's broadcast goes on."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable

from websockets.sync.client import connect

from mod_pywebsocket.server.threaded import ThreadedServer
from tests.rawclient import RawWebSocket, opened

Start = Callable[..., ThreadedServer]
MESSAGES = 400
SIZE = 64 * 1024  # 25 MiB in all: more than a stalled peer's socket buffers and queue hold


def _stalled_member(port: int) -> RawWebSocket:
    """A chat member whose receive window is tiny and who then reads nothing."""
    return opened(port, "/example/chat", receive_buffer=4096)


def wait_for_members(server: ThreadedServer, count: int) -> None:
    suite = server.dispatcher.get_handler_suite("/example/chat")
    assert suite is not None
    members = suite.transfer_data.__globals__["_senders"]
    deadline = time.monotonic() + 10
    while len(members) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(members) == count


def test_chat_sends_every_message_to_every_member_as_it_came(start_server: Start) -> None:
    server = start_server()
    url = f"ws://127.0.0.1:{server.server_port}/example/chat"
    with connect(url) as first, connect(url) as second:
        wait_for_members(server, 2)
        first.send("héllo")
        second.send(b"\x00\xff")
        for member in (first, second):
            assert {member.recv(timeout=10), member.recv(timeout=10)} == {"héllo", b"\x00\xff"}


def test_a_member_that_stops_reading_delays_no_other_member(start_server: Start) -> None:
    server = start_server()
    url = f"ws://127.0.0.1:{server.server_port}/example/chat"
    stalled = _stalled_member(server.server_port)
    try:
        with (
            connect(url, max_size=None, close_timeout=2) as sender,
            connect(url, max_size=None, close_timeout=2) as reader,
        ):
            wait_for_members(server, 3)
            delivered = 0
            try:
                for i in range(MESSAGES):
                    message = i.to_bytes(4, "big") * (SIZE // 4)
                    sender.send(message)
                    # 10 s is a deadlock guard, not a speed measure.
                    assert reader.recv(timeout=10) == message
                    assert sender.recv(timeout=10) == message
                    delivered += 1
            except TimeoutError:
                pass
            # Before: the room froze for everyone after about 40 of the 400 messages.
            assert delivered == MESSAGES

        # The stalled member's queue overflowed: reading again, it finds fewer messages
        # than were sent, then the end of its connection (Close 1008, or TCP cut at once).
        got, code = 0, None
        stalled.sock.settimeout(30)
        try:
            while True:
                opcode, payload = stalled.read_frame()
                if opcode == 8:
                    code = struct.unpack("!H", payload[:2])[0]
                    break
                got += 1
        except (EOFError, ConnectionResetError):
            pass
        assert got < MESSAGES and code in (None, 1008), (got, code)
    finally:
        stalled.close()
