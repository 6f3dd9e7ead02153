"""``msgutil``: message helpers handlers call (API.md section 5).

Thin functions over ``request.ws_stream``, and the background
:class:`MessageReceiver` and :class:`MessageSender` threads.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from .protocol.errors import (
    BadOperationException,
    ConnectionTerminatedException,
    InvalidFrameException,
    InvalidUTF8Exception,
    UnsupportedFrameException,
)

__all__ = [
    "BadOperationException",
    "ConnectionTerminatedException",
    "InvalidFrameException",
    "InvalidUTF8Exception",
    "MessageReceiver",
    "MessageSender",
    "UnsupportedFrameException",
    "close_connection",
    "receive_message",
    "send_message",
    "send_ping",
]


def close_connection(request: Any) -> None:
    """Start the closing handshake with 1000 and wait for the peer's Close."""
    request.ws_stream.close_connection()


def send_message(request: Any, payload_data: str | bytes, end: bool = True,
                 binary: bool = False) -> None:
    # payload_data is the reference's name: handlers may pass it by keyword.
    request.ws_stream.send_message(payload_data, end, binary)


def receive_message(request: Any) -> str | bytes | None:
    return request.ws_stream.receive_message()  # type: ignore[no-any-return]


def send_ping(request: Any, body: bytes | str = b"") -> None:
    request.ws_stream.send_ping(body)


class MessageReceiver(threading.Thread):
    """Receives messages in a background thread.

    Without ``onmessage`` the messages queue up for :meth:`receive` and
    :meth:`receive_nowait`; with it, it is called for each message. The
    closing handshake runs when the loop ends.
    """

    def __init__(self, request: Any, onmessage: Callable[[Any], None] | None = None) -> None:
        super().__init__(daemon=True)
        self._request = request
        self._queue: queue.Queue[Any] = queue.Queue()
        self._onmessage = onmessage
        self._stop_requested = False
        self.start()

    def run(self) -> None:
        try:
            while not self._stop_requested:
                message = receive_message(self._request)
                if self._onmessage is not None:
                    self._onmessage(message)
                else:
                    self._queue.put(message)
                if message is None:
                    break
        except Exception:  # the connection ended; the handler sees it through the stream
            pass
        finally:
            try:
                close_connection(self._request)
            except Exception:
                pass

    def receive(self) -> Any:
        """The next message, waiting for it."""
        return self._queue.get()

    def receive_nowait(self) -> Any:
        """The next message, or None when none has arrived."""
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    def stop(self) -> None:
        """Stop after the message being received."""
        self._stop_requested = True


class MessageSender(threading.Thread):
    """Sends messages from a background thread."""

    def __init__(self, request: Any) -> None:
        super().__init__(daemon=True)
        self._request = request
        self._queue: queue.Queue[tuple[Any, threading.Event | None]] = queue.Queue()
        self.start()

    def run(self) -> None:
        while True:
            message, done = self._queue.get()
            try:
                send_message(self._request, message)
            finally:
                if done is not None:
                    done.set()

    def send(self, message: str | bytes) -> None:
        """Send ``message`` and wait until it has been written."""
        done = threading.Event()
        self._queue.put((message, done))
        done.wait()

    def send_nowait(self, message: str | bytes) -> None:
        """Queue ``message`` and return at once."""
        self._queue.put((message, None))
