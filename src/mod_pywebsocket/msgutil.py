"""``msgutil``: message helpers handlers call (API.md section 5).

Thin functions over ``request.ws_stream``, the background
:class:`MessageReceiver` and :class:`MessageSender` threads, and
:class:`BoundedMessageSender`, a sender that never waits on a slow peer (for
broadcasting).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from .protocol.constants import STATUS_POLICY_VIOLATION
from .protocol.errors import (
    BadOperationException,
    ConnectionTerminatedException,
    InvalidFrameException,
    InvalidUTF8Exception,
    UnsupportedFrameException,
)

__all__ = [
    "BadOperationException",
    "BoundedMessageSender",
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

_logger = logging.getLogger("mod_pywebsocket.msgutil")


def close_connection(request: Any) -> None:
    """Start the closing handshake with 1000 and wait for the peer's Close."""
    request.ws_stream.close_connection()


def send_message(
    request: Any, payload_data: str | bytes, end: bool = True, binary: bool = False
) -> None:
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
        self._queue: queue.Queue[Any] = queue.Queue()
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


class _Waiter:
    """What :meth:`BoundedMessageSender.send` waits on: done, and whether it was sent."""

    __slots__ = ("done", "sent")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.sent = False


class BoundedMessageSender(MessageSender):
    """A :class:`MessageSender` with a bounded queue, for broadcasting to peers that may stall.

    :meth:`send_nowait` never waits. Messages queue up while the peer reads
    slower than they come; when one more would take the queue past
    ``max_queued_messages`` or ``max_queued_bytes`` (``len()`` of each waiting
    message: characters for text), the queue is dropped and this one
    connection is closed with ``overflow_code`` through
    ``request.ws_stream.abort()``. A stalled peer thus costs bounded memory and
    delays nobody else. A message the sender has taken does not count, so one
    message larger than the byte bound goes through when the queue is empty.

    Call :meth:`close` when the handler is done with the connection: the
    messages already queued are sent, then the thread ends. It also ends when
    a send fails (the connection is gone).
    """

    def __init__(
        self,
        request: Any,
        max_queued_messages: int = 1024,
        max_queued_bytes: int = 1024 * 1024,
        overflow_code: int = STATUS_POLICY_VIOLATION,
        overflow_reason: str = "send queue overflow",
    ) -> None:
        self.max_queued_messages = max_queued_messages
        self.max_queued_bytes = max_queued_bytes
        self.overflow_code = overflow_code
        self.overflow_reason = overflow_reason
        self.overflowed = False
        self._lock = threading.Lock()
        self._accepting = True
        self._queued_messages = 0
        self._queued_bytes = 0
        super().__init__(request)

    def run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            message, binary, waiter = item
            with self._lock:
                if self.overflowed:
                    return
                self._queued_messages -= 1
                self._queued_bytes -= len(message)
            try:
                self._request.ws_stream.send_message(message, binary=binary)
                if waiter is not None:
                    waiter.sent = True
            except Exception:  # the connection is gone; the session reports why
                with self._lock:
                    self._accepting = False
                self._drop_queued()
                return
            finally:
                if waiter is not None:
                    waiter.done.set()

    # These return whether the message was taken (MessageSender's return None).
    def send_nowait(  # type: ignore[override]
        self, message: str | bytes, binary: bool = False
    ) -> bool:
        """Queue ``message``; False (and the connection closing) when it cannot be."""
        return self._put(message, binary, None)

    def send(self, message: str | bytes, binary: bool = False) -> bool:  # type: ignore[override]
        """Queue ``message`` and wait until it is written; False when it never will be."""
        waiter = _Waiter()
        if not self._put(message, binary, waiter):
            return False
        waiter.done.wait()
        return waiter.sent

    def close(self) -> None:
        """Refuse new messages; the thread ends after sending those already queued."""
        with self._lock:
            self._accepting = False
        self._queue.put(None)

    def _put(self, message: str | bytes, binary: bool, waiter: _Waiter | None) -> bool:
        with self._lock:
            if not self._accepting:
                return False
            waiting = self._queued_messages
            if waiting and (
                waiting >= self.max_queued_messages
                or self._queued_bytes + len(message) > self.max_queued_bytes
            ):
                self._accepting = False
                self.overflowed = True
            else:
                self._queued_messages += 1
                self._queued_bytes += len(message)
                self._queue.put((message, binary, waiter))
                return True
        _logger.info(
            "%s: %d messages wait for a slow peer; closing it with %d",
            getattr(self._request, "ws_resource", "-"),
            waiting,
            self.overflow_code,
        )
        self._drop_queued()
        # abort() may have to wait for the write lock that the stalled send holds:
        # run it apart, so that the caller (a broadcasting handler) never waits.
        threading.Thread(target=self._abort, name="ws-overflow-close", daemon=True).start()
        return False

    def _drop_queued(self) -> None:
        """Forget the waiting messages, release their waiters, and let the thread end."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None and item[2] is not None:
                item[2].done.set()
        self._queue.put(None)

    def _abort(self) -> None:
        try:
            self._request.ws_stream.abort(self.overflow_code, self.overflow_reason)
        except Exception:  # the connection may be broken already
            pass
