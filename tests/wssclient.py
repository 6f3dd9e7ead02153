"""A wss:// client for the tests that uses each TLS connection from one thread only.

websockets' sync client reads on a thread of its own while the caller sends,
so over TLS two threads use one OpenSSL SSL object at once, which OpenSSL
does not allow. Against any asyncio TLS server about one connection in a few
hundred lost its upgrade request that way (the server saw no byte and
answered 408 after the handshake timeout), and once the test process itself
died of a segmentation fault in CI. websocket-client's blocking WebSocket does
every read and write on the caller's thread, so the tests use it for wss://.
"""

from __future__ import annotations

import ssl
from types import TracebackType

import websocket  # websocket-client


class WssClient:
    """One wss:// connection: ``send`` text or bytes, ``recv`` what comes back."""

    def __init__(self, url: str, context: ssl.SSLContext, timeout: float = 10.0) -> None:
        self._ws = websocket.create_connection(url, sslopt={"context": context}, timeout=timeout)

    def send(self, message: str | bytes) -> None:
        if isinstance(message, str):
            self._ws.send(message)
        else:
            self._ws.send_binary(message)

    def recv(self) -> str | bytes:
        message: str | bytes = self._ws.recv()
        return message

    def close(self) -> None:
        self._ws.close(timeout=5)

    def __enter__(self) -> WssClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def connect(url: str, context: ssl.SSLContext, timeout: float = 10.0) -> WssClient:
    return WssClient(url, context, timeout)
