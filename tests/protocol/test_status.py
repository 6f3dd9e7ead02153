"""protocol/status.py: status lines and their reason phrases."""

from __future__ import annotations

from mod_pywebsocket.protocol.status import reason_phrase, status_line


def test_registered_and_unregistered_codes() -> None:
    assert status_line(200) == "HTTP/1.1 200 OK"
    assert status_line(404) == "HTTP/1.1 404 Not Found"
    assert reason_phrase(299) == "Error"
    assert status_line(299, unknown="Status") == "HTTP/1.1 299 Status"
