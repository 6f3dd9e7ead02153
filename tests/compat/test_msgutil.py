"""msgutil: its functions take the reference's keyword names."""

from __future__ import annotations

from typing import Any

from mod_pywebsocket import msgutil


class RecordingStream:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def send_message(self, message: str | bytes, end: bool = True, binary: bool = False) -> None:
        self.sent.append((message, end, binary))


class Request:
    def __init__(self) -> None:
        self.ws_stream = RecordingStream()


def test_send_message_takes_payload_data_by_keyword() -> None:
    request = Request()
    msgutil.send_message(request, payload_data=b"\x01", end=False, binary=True)
    msgutil.send_message(request, "text")
    assert request.ws_stream.sent == [(b"\x01", False, True), ("text", True, False)]
