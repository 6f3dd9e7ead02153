"""A throwaway mod_python header-parser handler that measures mod_python itself.

Not part of the product: tests/apache/test_mod_python_facts.py runs it under a
real httpd to pin down the mod_python API the real headerparserhandler uses.

    /probe/facts[?q]          JSON of request facts as an ordinary HTTP response
    /probe/ws[?mode=..]       a hand-made RFC 6455 handshake, one echoed frame
                              carrying the facts, then the handler returns; the
                              query picks how it returns (see _finish)
    /probe/read?n=N           after the handshake: one connection.read(N), reports
                              (bytes got, seconds) in a text frame
    /probe/eof                after the handshake: read() after the peer's
                              SHUT_WR, reports what read returned / raised
    /probe/log                logs through logging, print(stderr), apache.log_error,
                              req.log_error, then DECLINED (static file served)
    anything else             DECLINED
"""

import base64
import hashlib
import json
import logging
import struct
import sys
import threading
import time
import urllib.parse

from mod_python import apache

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# Module state is shared by every request in this interpreter: count them.
_lock = threading.Lock()
_calls = 0


def _facts(req):
    global _calls
    with _lock:
        _calls += 1
        calls = _calls
    conn = req.connection
    facts = {
        "uri": req.uri,
        "unparsed_uri": req.unparsed_uri,
        "args": req.args,
        "the_request": req.the_request,
        "method": req.method,
        "protocol": req.protocol,
        "proto_num": req.proto_num,
        "hostname": req.hostname,
        "path_info": req.path_info,
        "filename": req.filename,
        "headers_in": {k: v for k, v in req.headers_in.items()},
        "headers_in_get_lower": req.headers_in.get("sec-websocket-key"),
        "headers_in_type": type(req.headers_in).__name__,
        "options": dict(req.get_options()),
        "main_server_options": dict(apache.main_server.get_options()),
        "is_https": req.is_https(),
        "remote_addr": list(conn.remote_addr),
        "local_addr": list(conn.local_addr),
        "remote_ip": conn.remote_ip,
        "client_addr": list(conn.client_addr),
        "client_ip": conn.client_ip,
        "useragent_addr": list(req.useragent_addr),
        "local_ip": conn.local_ip,
        "keepalive": conn.keepalive,
        "keepalives": conn.keepalives,
        "conn_id": conn.id,
        "interpreter": req.interpreter,
        "python": sys.version,
        "executable": sys.executable,
        "sys_path": sys.path,
        "thread": threading.current_thread().name,
        "thread_count": threading.active_count(),
        "mpm_threaded": apache.mpm_query(apache.AP_MPMQ_IS_THREADED),
        "mpm_forked": apache.mpm_query(apache.AP_MPMQ_IS_FORKED),
        "module_calls": calls,
        "pid": __import__("os").getpid(),
        "uid": __import__("os").getuid(),
        "has_conn_read": hasattr(conn, "read"),
        "conn_attrs": sorted(a for a in dir(conn) if not a.startswith("__")),
        "req_attrs": sorted(a for a in dir(req) if not a.startswith("__")),
        "AP_CONN": [apache.AP_CONN_UNKNOWN, apache.AP_CONN_CLOSE, apache.AP_CONN_KEEPALIVE],
        "OK_DONE_DECLINED": [apache.OK, apache.DONE, apache.DECLINED],
    }
    return facts


def _query(req):
    return dict(urllib.parse.parse_qsl(req.args or ""))


def _accept(key):
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode()


def _handshake(req):
    key = req.headers_in.get("Sec-WebSocket-Key")
    response = (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {_accept(key)}\r\n"
        "\r\n"
    )
    req.connection.write(response.encode("ascii"))


def _read_exact(conn, n):
    chunks = []
    while n > 0:
        chunk = conn.read(n)
        if not chunk:
            raise EOFError("peer closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_frame(conn):
    b0, b1 = _read_exact(conn, 2)
    length = b1 & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", _read_exact(conn, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", _read_exact(conn, 8))
    mask = _read_exact(conn, 4) if b1 & 0x80 else b"\0\0\0\0"
    payload = _read_exact(conn, length)
    return b0 & 0x0F, bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


def _text_frame(text):
    data = text.encode("utf-8")
    if len(data) < 126:
        header = struct.pack("!BB", 0x81, len(data))
    elif len(data) < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, len(data))
    else:
        header = struct.pack("!BBQ", 0x81, 127, len(data))
    return header + data


def _finish(req, mode):
    """How the handler ends once the WebSocket is over (?mode=...)."""
    if "close" in mode:
        req.connection.keepalive = apache.AP_CONN_CLOSE
    if "assb" in mode:
        req.assbackwards = 1
    if mode.startswith("done"):
        return apache.DONE
    if mode.startswith("ok"):
        return apache.OK
    if mode.startswith("declined"):
        return apache.DECLINED
    raise ValueError(mode)


def headerparserhandler(req):
    path = req.uri
    if path == "/probe/facts":
        body = json.dumps(_facts(req)).encode()
        req.content_type = "application/json"
        req.set_content_length(len(body))
        req.write(body)
        return apache.DONE

    if path == "/probe/log":
        logging.getLogger("probe.logger").warning(
            "PROBE-LOGGING-WARNING root handlers=%r", logging.getLogger().handlers
        )
        logging.getLogger("probe.logger").error("PROBE-LOGGING-ERROR")
        print("PROBE-PRINT-STDERR", file=sys.stderr, flush=True)
        print("PROBE-PRINT-STDOUT", flush=True)
        apache.log_error("PROBE-APACHE-LOG-ERROR-WARNING", apache.APLOG_WARNING)
        apache.log_error(
            "PROBE-APACHE-LOG-ERROR-MAIN-SERVER-INFO", apache.APLOG_INFO, apache.main_server
        )
        req.log_error("PROBE-REQ-LOG-ERROR-INFO", apache.APLOG_INFO)
        req.log_error("PROBE-REQ-LOG-ERROR-DEBUG", apache.APLOG_DEBUG)
        return apache.DECLINED

    if path == "/probe/attrs":
        # Which request attributes can a handler (or our adapter) set?
        report = {}
        for name, value in [
            ("uri", "/probe/attrs?with=query"),
            ("ws_resource", "/x"),
            ("ws_protocol", None),
            ("connection", None),
            ("unparsed_uri", "/y"),
        ]:
            try:
                setattr(req, name, value)
                report[name] = f"set: {getattr(req, name)!r}"
            except Exception as e:  # noqa: BLE001
                report[name] = f"{type(e).__name__}: {e}"
        try:
            req.connection.custom = 1
            report["connection.custom"] = "set"
        except Exception as e:  # noqa: BLE001
            report["connection.custom"] = f"{type(e).__name__}: {e}"
        body = json.dumps(report).encode()
        req.content_type = "application/json"
        req.set_content_length(len(body))
        req.write(body)
        return apache.DONE

    if path == "/probe/raise":
        raise RuntimeError("PROBE-UNCAUGHT-EXCEPTION")

    if path == "/probe/status":
        # Returning an HTTP status from the header parser: Apache writes the
        # error response itself.
        return int(_query(req).get("code", "404"))

    if not path.startswith("/probe/"):
        return apache.DECLINED
    if (req.headers_in.get("Upgrade") or "").lower() != "websocket":
        return apache.DECLINED

    query = _query(req)
    conn = req.connection
    facts = _facts(req)
    _handshake(req)

    if path == "/probe/ws":
        opcode, payload = _read_frame(conn)
        facts["echo"] = payload.decode("utf-8", "replace")
        facts["echo_opcode"] = opcode
        conn.write(_text_frame(json.dumps(facts)))
        # Wait for the client's close frame, answer it (the closing handshake)
        opcode, payload = _read_frame(conn)
        conn.write(struct.pack("!BB", 0x88, len(payload)) + payload)
    elif path == "/probe/read":
        n = int(query.get("n", "64"))
        start = time.monotonic()
        got = conn.read(n)
        elapsed = time.monotonic() - start
        report = {
            "asked": n,
            "got": len(got),
            "type": type(got).__name__,
            "seconds": round(elapsed, 3),
        }
        # A second read for the rest, to see how it behaves when more is queued.
        start = time.monotonic()
        try:
            got2 = conn.read(n)
            report["got2"] = len(got2) if got2 is not None else None
        except OSError as e:
            report["got2"] = f"{type(e).__name__}: {e}"
        report["seconds2"] = round(time.monotonic() - start, 3)
        conn.write(_text_frame(json.dumps(report)))
    elif path == "/probe/eof":
        report = {}
        try:
            got = conn.read(10)
            report["read"] = repr(got)
        except Exception as e:  # noqa: BLE001 - we are recording what happens
            report["raised"] = f"{type(e).__name__}: {e}"
        try:
            got = conn.read(10)
            report["read_again"] = repr(got)
        except Exception as e:  # noqa: BLE001
            report["raised_again"] = f"{type(e).__name__}: {e}"
        try:
            conn.write(_text_frame(json.dumps(report)))
        except Exception as e:  # noqa: BLE001
            apache.log_error(f"PROBE-EOF write raised {e!r}", apache.APLOG_ERR)
        apache.log_error(f"PROBE-EOF {json.dumps(report)}", apache.APLOG_WARNING)
    elif path == "/probe/writegone":
        # The client resets the connection right after the 101: how long until
        # connection.write notices?
        time.sleep(0.5)
        frame = _text_frame("x" * 1000)
        report = {"writes_ok": 0, "aborted_before": conn.aborted}
        for _ in range(10000):
            try:
                conn.write(frame)
            except Exception as e:  # noqa: BLE001
                report["raised"] = f"{type(e).__name__}: {e}"
                break
            report["writes_ok"] += 1
            if conn.aborted and "aborted_after_writes" not in report:
                report["aborted_after_writes"] = report["writes_ok"]
        report["aborted_end"] = conn.aborted
        try:
            report["read_after"] = repr(conn.read(10))
        except Exception as e:  # noqa: BLE001
            report["read_after"] = f"{type(e).__name__}: {e}"
        apache.log_error(f"PROBE-WRITEGONE {json.dumps(report)}", apache.APLOG_WARNING)
    elif path == "/probe/sleep":
        # Holds the worker thread without reading (Timeout / stop tests).
        time.sleep(float(query.get("s", "5")))
        conn.write(_text_frame("slept"))
    elif path == "/probe/thread":
        # A second thread writes while this one blocks in read (handlers run
        # a MessageReceiver/MessageSender thread beside the request thread).
        def writer():
            time.sleep(0.2)
            logging.getLogger("probe.thread").warning("PROBE-THREAD-LOG")
            conn.write(_text_frame(f"from {threading.current_thread().name}"))

        t = threading.Thread(target=writer, name="probe-writer")
        t.start()
        opcode, payload = _read_frame(conn)
        t.join()
        conn.write(_text_frame("read " + payload.decode()))
    elif path == "/probe/writestr":
        report = {}
        try:
            conn.write("a str, not bytes: \u00e9\u20ac|")
            report["str_write"] = "accepted"
        except Exception as e:  # noqa: BLE001
            report["str_write"] = f"{type(e).__name__}: {e}"
        conn.write(_text_frame(json.dumps(report)))
    return _finish(req, query.get("mode", "done_assb_close"))
