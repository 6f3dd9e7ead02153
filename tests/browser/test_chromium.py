"""Headless Chromium against the real server: permessage-deflate, and console.html.

These run in CI (which installs Debian's ``chromium``). Without a browser they
fail when CI=true and skip elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mod_pywebsocket import standalone

from .cdp import Browser, find_chromium

EXAMPLE = Path(__file__).resolve().parents[2] / "example"


def _chromium() -> str:
    """The browser's path; without one, fail in CI (which installs it) and skip elsewhere."""
    executable = find_chromium()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (CI installs Debian's chromium)")
        pytest.skip("chromium is not installed")
    return executable


@contextlib.contextmanager
def _tls_server(tmp_path: Path, handlers: Path, root: Path, *flags: str) -> Iterator[int]:
    """A standalone server with TLS (a trustme certificate for 127.0.0.1); its port."""
    import trustme

    cert = trustme.CA().issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    options, _ = standalone._parse_args_and_config(
        ["-H", "127.0.0.1", "-p", "0", "-w", str(handlers), "-d", str(root), "-t"]
        + ["-c", str(tmp_path / "cert.pem"), "-k", str(tmp_path / "key.pem"), *flags]
    )
    server = standalone.WebSocketServer(options)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server._sockets[0][0].getsockname()[1]
    finally:
        server.shutdown()
        server.server_close()
        server.close_connections(grace=2.0)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(_chromium()) as b:
        yield b


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    options, _ = standalone._parse_args_and_config(
        ["-H", "127.0.0.1", "-p", "0", "-w", str(EXAMPLE), "-d", str(EXAMPLE)]
    )
    server = standalone.WebSocketServer(options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server._sockets[0][0].getsockname()[1]
    server.shutdown()
    server.server_close()
    server.close_connections(grace=2.0)


def test_chromium_negotiates_permessage_deflate_and_exchanges_messages(
    browser: Browser, server_port: int
) -> None:
    browser.navigate(f"http://127.0.0.1:{server_port}/console.html")
    result = browser.evaluate(
        """
        new Promise((resolve, reject) => {
          const ws = new WebSocket('ws://127.0.0.1:PORT/echo');
          ws.binaryType = 'arraybuffer';
          const big = 'compressible '.repeat(20000);
          const replies = [];
          ws.onerror = () => reject('websocket error');
          ws.onopen = () => {
            ws.send('hello');
            ws.send(big);
            ws.send(new Uint8Array([0, 1, 2, 255]));
          };
          ws.onmessage = (e) => {
            replies.push(typeof e.data === 'string' ? e.data.length + ':' + e.data.slice(0, 5)
                         : 'binary:' + Array.from(new Uint8Array(e.data)).join(','));
            if (replies.length === 3) ws.close(1000, 'done');
          };
          ws.onclose = (e) => resolve({extensions: ws.extensions, replies: replies,
                                       code: e.code, clean: e.wasClean});
        })
    """.replace("PORT", str(server_port))
    )
    assert result["extensions"].startswith("permessage-deflate")
    assert result["replies"] == [
        "5:hello",
        f"{len('compressible ') * 20000}:compr",
        "binary:0,1,2,255",
    ]
    assert result["code"] == 1000 and result["clean"] is True


def test_console_html_connects_to_echo_and_shows_the_reply(
    browser: Browser, server_port: int
) -> None:
    browser.navigate(f"http://127.0.0.1:{server_port}/console.html")
    browser.evaluate("document.getElementById('connect').click()")
    browser.wait_for("document.getElementById('state').textContent === 'open'")
    browser.evaluate("""
        document.getElementById('message').value = 'hello from the console';
        document.getElementById('send').click();
    """)
    log = browser.wait_for(
        "[...document.querySelectorAll('#log .received')].map(e => e.textContent).join('\\n')"
    )
    assert log == "< hello from the console"
    assert browser.evaluate("document.getElementById('extensions').textContent").startswith(
        "permessage-deflate"
    )
    browser.evaluate("document.getElementById('disconnect').click()")
    closed = browser.wait_for(
        "[...document.querySelectorAll('#log .event')].map(e => e.textContent)"
        ".find(t => t.startsWith('closed'))"
    )
    assert "code=1000" in closed and "clean=true" in closed
    if os.environ.get("SCREENSHOT_DIR"):
        browser.screenshot(os.path.join(os.environ["SCREENSHOT_DIR"], "console.png"))


def test_chromium_over_wss(tmp_path: Path) -> None:
    with (
        _tls_server(tmp_path, EXAMPLE, EXAMPLE) as port,
        Browser(_chromium(), ["--ignore-certificate-errors"]) as browser,
    ):
        browser.navigate(f"https://127.0.0.1:{port}/console.html")
        result = browser.evaluate(
            """
                new Promise((resolve, reject) => {
                  const ws = new WebSocket('wss://127.0.0.1:PORT/echo');
                  ws.onerror = () => reject('websocket error');
                  ws.onopen = () => ws.send('over tls');
                  ws.onmessage = (e) => { ws.close(); resolve(e.data); };
                })
            """.replace("PORT", str(port))
        )
        assert result == "over tls"


def test_chromium_opens_websockets_over_http2(tmp_path: Path) -> None:
    """RFC 8441 with a real browser: the page comes over h2 (ALPN), and Chromium opens
    its wss:// as an extended CONNECT on that connection, which DevTools shows as a
    handshake answered 200 (101 is HTTP/1.1's) and the handler sees as HTTP/2."""
    handlers = Path(__file__).resolve().parents[1] / "http2"
    with (
        _tls_server(tmp_path, handlers / "handlers", handlers / "static", "--http2") as port,
        Browser(_chromium(), ["--ignore-certificate-errors"]) as browser,
    ):
        browser.call("Network.enable")
        browser.navigate(f"https://127.0.0.1:{port}/index.html")
        page = browser.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol")
        assert page == "h2"
        result = browser.evaluate(
            """
                new Promise((resolve, reject) => {
                  const replies = [];
                  const open = (path) => new Promise((done, fail) => {
                    const ws = new WebSocket('wss://127.0.0.1:PORT' + path);
                    ws.onerror = () => fail('websocket error on ' + path);
                    ws.onopen = () => ws.send('over h2');
                    ws.onmessage = (e) => { replies.push(e.data); ws.close(); };
                    ws.onclose = (e) => done(e.code);
                  });
                  // Two WebSockets at once: two streams of the page's one connection.
                  Promise.all([open('/handshake'), open('/echo')])
                    .then((codes) => resolve({codes, replies}), reject);
                })
            """.replace("PORT", str(port))
        )
        assert result["codes"] == [1000, 1000]
        assert "over h2" in result["replies"]
        fields = next(r for r in result["replies"] if r.startswith("fields: "))
        # ws_resource, method, protocol, Host, version, protocol, origin
        assert fields.split("|")[1:4] == ["CONNECT", "HTTP/2", f"127.0.0.1:{port}"]
        statuses = [
            event["params"]["response"]["status"]
            for event in browser.events
            if event["method"] == "Network.webSocketHandshakeResponseReceived"
        ]
        assert statuses == [200, 200], statuses
