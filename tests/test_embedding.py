"""The embedding API: Server(options) as a context manager, ServerOptions.from_args."""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

import pytest
from websockets.sync.client import connect

import mod_pywebsocket
from mod_pywebsocket import Server, ServerOptions
from tests.rawclient import RawWebSocket

EXAMPLE = Path(__file__).resolve().parents[1] / "example"


def test_the_package_exports_the_api() -> None:
    assert set(mod_pywebsocket.__all__) >= {"Server", "ServerOptions"}
    assert mod_pywebsocket.Server is Server


def test_from_args_takes_the_command_lines_flags() -> None:
    options = ServerOptions.from_args(
        [
            "-p",
            "0",
            "-w",
            str(EXAMPLE),
            "--max-message-size",
            "1000",
            "--no-deflate",
            "--websock_handlers_map_file",
            "map.txt",
        ]
    )
    assert (
        options.port,
        options.websock_handlers,
        options.max_message_size,
        options.enable_deflate,
        options.websock_handlers_map_file,
    ) == (0, str(EXAMPLE), 1000, False, "map.txt")
    for bad in (["-p", "eighty"], ["--no-such-flag"], ["--config", "/no/such.ini"]):
        with pytest.raises(ValueError):
            ServerOptions.from_args(bad)


def test_listening_once_start_returns_and_closed_after_the_block() -> None:
    options = ServerOptions.from_args(["-H", "127.0.0.1", "-p", "0", "-w", str(EXAMPLE)])
    with Server(options) as server:
        assert server.addresses == [("127.0.0.1", server.port)]
        assert "/echo" in server.resources
        with connect(f"ws://127.0.0.1:{server.port}/echo") as ws:
            ws.send("embedded")
            assert ws.recv() == "embedded"
        port = server.port
    with pytest.raises(OSError):  # the listening socket is gone
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_close_sends_1001_and_keeps_to_the_grace() -> None:
    server = Server(server_host="127.0.0.1", port=0, websock_handlers=str(EXAMPLE)).start()
    ws = RawWebSocket(server.port)
    ws.upgrade("/echo")
    assert ws.read_head()[0] == 101
    closer = threading.Thread(target=server.close, kwargs={"grace": 1.0})
    closer.start()
    assert ws.read_frame() == (8, struct.pack("!H", 1001) + b"server shutting down")
    ws.send_close(1001)
    closer.join(5)
    assert not closer.is_alive()
    server.close()  # twice is fine
    ws.close()


def test_errors_surface_from_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = Server(
            server_host="127.0.0.1", port=taken.getsockname()[1], websock_handlers=str(EXAMPLE)
        )
        with pytest.raises(OSError):
            server.start()
    with pytest.raises(RuntimeError):
        _ = Server().port
