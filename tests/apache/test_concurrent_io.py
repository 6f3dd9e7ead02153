"""One thread reading while another writes, under Apache (API.md section 4).

Apache's core output filter makes the socket non-blocking while it writes;
a read blocked in the other thread at that moment fails with mod_python's
"Connection read error". Before the transport retried such reads, about one
session in a hundred whose handler sent from a MessageSender thread ended
early with Close 1000 and lost messages; this runs 800 of them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from httpd import ApacheServer
from websockets.sync.client import connect

HANDLERS = Path(__file__).resolve().parents[1] / "api" / "handlers"


def test_reads_survive_writes_from_another_thread(
    apache_factory: Callable[..., ApacheServer],
) -> None:
    server = apache_factory(handler_root=str(HANDLERS))
    lost = []
    for session in range(800):
        with connect(f"ws://127.0.0.1:{server.port}/queues?onmessage") as ws:
            for word in ("one", "two", "three"):
                ws.send(word)
            replies = []
            try:
                for _ in range(3):
                    replies.append(ws.recv(timeout=10))
            except Exception as exc:  # the server closed early or went silent
                lost.append((session, replies, repr(exc)))
    assert lost == []
