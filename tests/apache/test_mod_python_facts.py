"""Pin down what Apache 2.4 + mod_python 3.5 (Python 3) actually do.

These run tests/apache/probe/probe_handler.py -- not our product -- under a
real httpd.  mod_pywebsocket.headerparserhandler is built on exactly these
facts (docs/apache.md, "Facts"); if a distribution's Apache or mod_python
changes one, this file says which.
"""

from __future__ import annotations

import json
import socket
import struct
import time

import pytest
from httpd import PROBE_DIR, ApacheServer
from tests.rawclient import RawWebSocket


def ws_facts(server: ApacheServer, target: str = "/probe/ws") -> tuple[dict, RawWebSocket]:
    ws = RawWebSocket(server.port)
    _, accept = ws.upgrade(target)
    status, headers, _ = ws.read_head()
    assert status == 101
    assert headers["sec-websocket-accept"] == accept
    ws.send_text("hello")
    opcode, payload = ws.read_frame()
    assert opcode == 1
    facts = json.loads(payload)
    assert facts["echo"] == "hello"
    return facts, ws


def close_and_drain(ws: RawWebSocket) -> tuple[bytes, float | None]:
    ws.send_close(1000)
    opcode, payload = ws.read_frame()
    assert (opcode, payload) == (8, struct.pack("!H", 1000))
    return ws.drain_until_eof(8)


# -- the embedded Python and the request object -----------------------------


def test_system_python_and_threaded_single_process(probe_server: ApacheServer) -> None:
    facts, ws = ws_facts(probe_server)
    close_and_drain(ws)
    ws.close()
    assert facts["executable"] == "/usr/bin/python3"
    assert facts["python"].startswith("3.")
    assert facts["mpm_threaded"] == 1
    # The project's src is first on mod_python's sys.path (PythonPath).
    assert facts["sys_path"].index(str(PROBE_DIR)) < facts["sys_path"].index("/usr/lib/python3.11")
    # A sub-interpreter named after the server, not the main interpreter.
    assert facts["interpreter"] == "127.0.0.1"


def test_request_target_attributes(probe_server: ApacheServer) -> None:
    facts, ws = ws_facts(probe_server, "/probe/ws?a=b%20c&d=%2F")
    close_and_drain(ws)
    ws.close()
    assert facts["uri"] == "/probe/ws"  # no query
    assert facts["unparsed_uri"] == "/probe/ws?a=b%20c&d=%2F"  # raw, with query
    assert facts["args"] == "a=b%20c&d=%2F"
    assert facts["method"] == "GET"
    assert facts["protocol"] == "HTTP/1.1"
    assert facts["headers_in"]["Sec-WebSocket-Key"] == facts["headers_in_get_lower"]
    assert facts["is_https"] == 0  # an int, not a bool
    assert facts["options"]["mod_pywebsocket.handler_root"] == str(PROBE_DIR)
    assert facts["main_server_options"] == facts["options"]
    assert facts["remote_addr"][0] == "127.0.0.1"
    assert facts["client_addr"] == facts["remote_addr"]
    assert facts["local_addr"] == ["127.0.0.1", probe_server.port]
    assert facts["has_conn_read"] is True


@pytest.mark.parametrize(
    ("target", "uri", "unparsed", "args"),
    [
        ("/probe/%66acts?x=%41", "/probe/facts", "/probe/%66acts?x=%41", "x=%41"),
        ("/x/../probe/facts", "/probe/facts", "/x/../probe/facts", None),
        ("/probe//facts", "/probe/facts", "/probe//facts", None),
        (
            "http://127.0.0.1/probe/facts?q=1",
            "/probe/facts",
            "http://127.0.0.1/probe/facts?q=1",
            "q=1",
        ),
    ],
)
def test_uri_is_decoded_and_normalised_unparsed_uri_is_raw(
    probe_server: ApacheServer, target: str, uri: str, unparsed: str, args: str | None
) -> None:
    with RawWebSocket(probe_server.port) as ws:
        ws.request(target, {"Connection": "close"})
        status, headers, _ = ws.read_head()
        assert status == 200
        facts = json.loads(ws.read_body(int(headers["content-length"])))
    assert (facts["uri"], facts["unparsed_uri"], facts["args"]) == (uri, unparsed, args)


def test_fragment_is_rejected_by_apache_before_any_handler(probe_server: ApacheServer) -> None:
    with RawWebSocket(probe_server.port) as ws:
        ws.upgrade("/probe/ws#frag")
        status, _, _ = ws.read_head()
    assert status == 400


def test_module_state_shared_by_concurrent_connections(probe_server: ApacheServer) -> None:
    sockets = []
    try:
        for _ in range(20):
            ws = RawWebSocket(probe_server.port)
            ws.upgrade("/probe/ws")
            sockets.append(ws)
        for ws in sockets:
            assert ws.read_head()[0] == 101
        for i, ws in enumerate(sockets):
            ws.send_text(f"m{i}")
        facts = [json.loads(ws.read_frame()[1]) for ws in sockets]
        assert [f["echo"] for f in facts] == [f"m{i}" for i in range(20)]
        assert len({f["pid"] for f in facts}) == 1
        calls = sorted(f["module_calls"] for f in facts)
        assert calls == list(range(calls[0], calls[0] + 20))
        for ws in sockets:
            close_and_drain(ws)
    finally:
        for ws in sockets:
            ws.close()


def test_second_thread_can_write_while_request_thread_reads(probe_server: ApacheServer) -> None:
    with RawWebSocket(probe_server.port) as ws:
        ws.upgrade("/probe/thread")
        assert ws.read_head()[0] == 101
        assert ws.read_frame() == (1, b"from probe-writer")
        ws.send_text("x")
        assert ws.read_frame() == (1, b"read x")


# -- ending the request: no bytes after the WebSocket, TCP closed -----------


@pytest.mark.parametrize("prior_request", [False, True], ids=["first", "after-keepalive"])
def test_assbackwards_keepalive_close_done_ends_cleanly(
    probe_server: ApacheServer, prior_request: bool
) -> None:
    with RawWebSocket(probe_server.port) as ws:
        if prior_request:  # a keep-alive request first: c->keepalive is KEEPALIVE
            ws.request("/static.txt")
            _, headers, _ = ws.read_head()
            ws.read_body(int(headers["content-length"]))
        ws.upgrade("/probe/ws?mode=done_assb_close")
        assert ws.read_head()[0] == 101
        ws.send_text("hello")
        ws.read_frame()
        extra, closed_after = close_and_drain(ws)
    assert extra == b""
    assert closed_after is not None and closed_after < 1.0


@pytest.mark.parametrize(
    ("mode", "extra_starts", "waits_keepalive"),
    [
        ("done_assb", b"", True),  # what pywebsocket 0.7 did: idles KeepAliveTimeout
        ("done", b"HTTP/1.1 200 OK", True),  # Apache writes a response after it
        ("ok", b"HTTP/1.1 404", True),  # the request goes on to the content handler
        ("ok_assb_close", b"<!DOCTYPE", False),  # ... whose body is written raw
    ],
)
def test_other_endings_leak_bytes_or_linger(
    probe_server: ApacheServer, mode: str, extra_starts: bytes, waits_keepalive: bool
) -> None:
    with RawWebSocket(probe_server.port) as ws:
        ws.upgrade(f"/probe/ws?mode={mode}")
        assert ws.read_head()[0] == 101
        ws.send_text("hello")
        ws.read_frame()
        extra, closed_after = close_and_drain(ws)
    assert extra.startswith(extra_starts)
    if extra_starts == b"":
        assert extra == b""
    assert closed_after is not None
    assert (closed_after > 4.0) is waits_keepalive  # KeepAliveTimeout 5


# -- connection.read / connection.write ------------------------------------


def test_read_returns_what_is_available(probe_server: ApacheServer) -> None:
    with RawWebSocket(probe_server.port) as ws:
        ws.upgrade("/probe/read?n=64")
        assert ws.read_head()[0] == 101
        ws.send(b"x" * 10)
        time.sleep(0.5)
        ws.send(b"y" * 54)
        report = json.loads(ws.read_frame()[1])
    assert report["type"] == "bytes"
    assert report["got"] == 10 and report["seconds"] < 0.3
    assert report["got2"] == 54 and report["seconds2"] >= 0.4


def test_bytes_pipelined_after_the_request_head_are_readable(probe_server: ApacheServer) -> None:
    with RawWebSocket(probe_server.port) as ws:
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        ws.send(
            (
                "GET /probe/read?n=64 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
            + b"z" * 20
        )
        assert ws.read_head()[0] == 101
        # The probe reads right after writing its 101: give that read the time to
        # happen before more bytes arrive, or it may take some of them too.
        time.sleep(0.5)
        ws.send(b"w" * 100)
        report = json.loads(ws.read_frame()[1])
    assert report["got"] == 20
    assert report["got2"] == 64


def test_read_at_eof_returns_none_then_raises(probe_server: ApacheServer) -> None:
    with RawWebSocket(probe_server.port) as ws:
        ws.upgrade("/probe/eof")
        assert ws.read_head()[0] == 101
        ws.sock.shutdown(socket.SHUT_WR)
        report = json.loads(ws.read_frame()[1])
    assert report == {"read": "None", "raised_again": "OSError: Connection read error"}


def test_write_to_a_gone_peer_never_raises_but_sets_aborted(probe_server: ApacheServer) -> None:
    ws = RawWebSocket(probe_server.port)
    ws.upgrade("/probe/writegone")
    assert ws.read_head()[0] == 101
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.close()  # RST
    deadline = time.monotonic() + 10
    line = ""
    while time.monotonic() < deadline and not line:
        time.sleep(0.2)
        line = next(
            (x for x in probe_server.error_log().splitlines() if "PROBE-WRITEGONE" in x), ""
        )
    report = json.loads(line.split("PROBE-WRITEGONE ", 1)[1])
    assert "raised" not in report and report["writes_ok"] == 10000
    assert report["aborted_before"] == 0
    assert 1 <= report["aborted_after_writes"] <= 3
    assert report["aborted_end"] == 1
    assert report["read_after"] == "None"


def test_write_accepts_str_as_utf8(probe_server: ApacheServer) -> None:
    with RawWebSocket(probe_server.port) as ws:
        ws.upgrade("/probe/writestr")
        assert ws.read_head()[0] == 101
        data, _ = ws.drain_until_eof(5)
    assert data.startswith("a str, not bytes: \u00e9\u20ac|".encode())


# -- DECLINED, statuses, exceptions, logging ---------------------------------


def http_get(port: int, target: str) -> tuple[int, dict[str, str], bytes]:
    with RawWebSocket(port) as ws:
        ws.request(target, {"Connection": "close"})
        status, headers, _ = ws.read_head()
        body, _ = ws.drain_until_eof(5)
    return status, headers, body


def test_declined_requests_are_served_by_apache(probe_server: ApacheServer) -> None:
    status, headers, body = http_get(probe_server.port, "/static.txt?q=1")
    assert status == 200 and body == b"static file served by apache\n"
    assert headers["content-type"] == "text/plain"
    assert http_get(probe_server.port, "/")[0] == 200  # DirectoryIndex
    assert http_get(probe_server.port, "/missing")[0] == 404


def test_returned_status_is_written_by_apache(probe_server: ApacheServer) -> None:
    assert http_get(probe_server.port, "/probe/status?code=403")[0] == 403
    assert http_get(probe_server.port, "/probe/status?code=400")[0] == 400


def test_uncaught_exception_is_500_with_traceback_in_error_log(
    probe_server: ApacheServer,
) -> None:
    assert http_get(probe_server.port, "/probe/raise")[0] == 500
    assert "RuntimeError: PROBE-UNCAUGHT-EXCEPTION" in probe_server.error_log()


def test_where_log_output_goes(probe_server: ApacheServer) -> None:
    http_get(probe_server.port, "/probe/log")
    time.sleep(0.2)
    log = probe_server.error_log()
    # logging with no handler configured: the root logger has no handlers, so
    # logging.lastResort prints WARNING and up to stderr, which httpd points at
    # the error_log -- bare lines with no timestamp, INFO/DEBUG lost.
    assert "PROBE-LOGGING-WARNING root handlers=[]" in log
    assert "\nPROBE-LOGGING-ERROR\n" in log
    assert "\nPROBE-PRINT-STDERR\n" in log
    assert "PROBE-PRINT-STDOUT" not in log  # stdout is not the error_log
    # apache.log_error / req.log_error: proper error_log lines, filtered by LogLevel
    assert "[:warn]" in next(x for x in log.splitlines() if "PROBE-APACHE-LOG-ERROR-WARNING" in x)
    assert "PROBE-APACHE-LOG-ERROR-MAIN-SERVER-INFO" in log
    assert "[client 127.0.0.1:" in next(
        x for x in log.splitlines() if "PROBE-REQ-LOG-ERROR-INFO" in x
    )
    assert "PROBE-REQ-LOG-ERROR-DEBUG" not in log  # LogLevel info


# -- timeouts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra_modules", "extra_conf", "seconds"),
    [
        ((), "", 3),  # Timeout bounds a blocking read
        (("reqtimeout",), "RequestReadTimeout body=1", 1),  # mod_reqtimeout cuts first
        (("reqtimeout",), "RequestReadTimeout header=20-40,MinRate=500 body=0", 3),
    ],
    ids=["Timeout", "reqtimeout-body", "reqtimeout-body-0"],
)
def test_idle_read_is_cut_by_timeout_and_reqtimeout(
    apache_factory, extra_modules: tuple[str, ...], extra_conf: str, seconds: int
) -> None:
    server = apache_factory(
        header_parser="probe_handler",
        python_path=[PROBE_DIR],
        timeout=3,
        extra_modules=extra_modules,
        extra_conf=extra_conf,
    )
    with RawWebSocket(server.port) as ws:
        ws.upgrade("/probe/read?n=10")
        assert ws.read_head()[0] == 101
        ws.send(b"a" * 10)
        report = json.loads(ws.read_frame()[1])
    assert report["got2"] == "OSError: Connection read error"
    assert seconds - 0.5 < report["seconds2"] < seconds + 1.5


def test_prefork_splits_module_state_across_processes(apache_factory) -> None:
    server = apache_factory(
        header_parser="probe_handler", python_path=[PROBE_DIR], mpm="prefork", threads=8
    )
    sockets = [RawWebSocket(server.port) for _ in range(4)]
    try:
        for ws in sockets:
            ws.upgrade("/probe/ws")
        for ws in sockets:
            assert ws.read_head()[0] == 101
            ws.send_text("x")
        pids = {json.loads(ws.read_frame()[1])["pid"] for ws in sockets}
        assert len(pids) == 4
    finally:
        for ws in sockets:
            ws.close()


def test_which_request_attributes_are_writable(probe_server: ApacheServer) -> None:
    status, _, body = http_get(probe_server.port, "/probe/attrs")
    assert status == 200
    report = json.loads(body)
    assert report["uri"] == "set: '/probe/attrs?with=query'"  # req.uri is writable
    assert report["ws_resource"] == "set: '/x'"  # new attributes can be added
    assert report["connection"].startswith("AttributeError")  # read-only
    assert report["unparsed_uri"].startswith("AttributeError")  # read-only
    assert report["connection.custom"].startswith("AttributeError")  # no new attributes


def test_args_is_none_without_query_and_empty_with_bare_question_mark(
    probe_server: ApacheServer,
) -> None:
    for target, args in [("/probe/facts", None), ("/probe/facts?", "")]:
        status, _, body = http_get(probe_server.port, target)
        facts = json.loads(body)
        assert (facts["unparsed_uri"], facts["args"]) == (target, args)


def test_python_option_in_location_is_seen_by_req_not_main_server(apache_factory) -> None:
    server = apache_factory(
        header_parser="probe_handler",
        python_path=[PROBE_DIR],
        handler_root=PROBE_DIR,
        extra_conf=(
            "<Location /probe>\n"
            "    PythonOption mod_pywebsocket.handler_scan /in/location\n"
            "</Location>"
        ),
    )
    facts = json.loads(http_get(server.port, "/probe/facts")[2])
    assert facts["options"]["mod_pywebsocket.handler_scan"] == "/in/location"
    assert "mod_pywebsocket.handler_scan" not in facts["main_server_options"]


def test_remote_addr_logs_a_deprecation_warning_client_addr_does_not(
    probe_server: ApacheServer,
) -> None:
    http_get(probe_server.port, "/probe/facts")
    assert "conn.remote_addr deprecated in 2.4" in probe_server.error_log()
    assert "conn.client_addr deprecated" not in probe_server.error_log()
