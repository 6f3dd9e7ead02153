"""The session's adaptive read size: large reads for bulk data, small ones when idle."""

from __future__ import annotations

from collections.abc import Sequence

from mod_pywebsocket.handlers.request import Request
from mod_pywebsocket.protocol.connection import Connection
from mod_pywebsocket.protocol.frames import create_binary_frame
from mod_pywebsocket.protocol.handshake import Headers
from mod_pywebsocket.server.session import MIN_READ_SIZE, READ_SIZE, RawConnection, Stream


class ScriptedTransport:
    """Hands out ``data`` as fast as asked, recording every requested size."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.asked: list[int] = []

    def recv(self, size: int) -> bytes:
        self.asked.append(size)
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk

    def send(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def sendv(self, chunks: Sequence[bytes]) -> None:
        pass

    def set_timeout(self, timeout: float | None) -> None:
        pass

    def abort(self) -> None:
        pass

    def shutdown_write(self) -> bool:
        return False


def stream_over(data: bytes) -> tuple[Stream, ScriptedTransport]:
    transport = ScriptedTransport(data)
    raw = RawConnection(transport, None, None)
    request = Request(uri="/", method="GET", headers_in=Headers([]), connection=raw)
    return Stream(request, raw, Connection(), None, None), transport


def test_reads_grow_for_bulk_data_and_shrink_back_when_it_stops() -> None:
    big = b"\xa5" * (3 * 1024 * 1024)
    small = b"hi"
    stream, transport = stream_over(
        create_binary_frame(big, mask=True) + create_binary_frame(small, mask=True)
    )
    assert stream.receive_message() == big
    assert transport.asked[0] == MIN_READ_SIZE
    assert max(transport.asked) == READ_SIZE  # capped
    # Bulk data reached the cap in a handful of reads, then took whole buffers.
    ramp = transport.asked.index(READ_SIZE)
    assert ramp <= 6 and len(transport.asked) < ramp + 3 * 1024 * 1024 // READ_SIZE + 2
    assert stream.receive_message() == small
    # Short reads step the size back down to the minimum: an idle connection
    # then blocks in a small recv.
    for _ in range(8):
        transport.data += create_binary_frame(small, mask=True)
        assert stream.receive_message() == small
    assert transport.asked[-1] == MIN_READ_SIZE
    assert min(transport.asked) == MIN_READ_SIZE
