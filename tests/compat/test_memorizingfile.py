"""memorizingfile: readline memorizes, other attributes are the wrapped file's."""

from __future__ import annotations

import io

import pytest

import pywebsocket3.memorizingfile
from mod_pywebsocket.memorizingfile import MemorizingFile

TEXT = "Hello\nWorld\nWelcome"
LINES = ["Hello\n", "World\n", "Welcome"]


def read_all(f: MemorizingFile, size: int = -1) -> str:
    out = ""
    while piece := f.readline(size):
        out += piece
    return out


def test_both_import_names_give_the_class() -> None:
    assert pywebsocket3.memorizingfile.MemorizingFile is MemorizingFile


def test_lines_are_memorized() -> None:
    f = MemorizingFile(io.StringIO(TEXT))
    assert read_all(f) == TEXT
    assert f.get_memorized_lines() == LINES


def test_limit() -> None:
    f = MemorizingFile(io.StringIO(TEXT), 2)
    assert read_all(f) == TEXT
    assert f.get_memorized_lines() == LINES[:2]


def test_empty_file() -> None:
    f = MemorizingFile(io.StringIO(""))
    assert f.readline() == ""
    assert f.get_memorized_lines() == []


@pytest.mark.parametrize("size", range(1, 10))
def test_readline_with_size_returns_pieces_but_memorizes_whole_lines(size: int) -> None:
    f = MemorizingFile(io.StringIO(TEXT))
    pieces = []
    while piece := f.readline(size):
        assert len(piece) <= size
        pieces.append(piece)
    assert "".join(pieces) == TEXT
    assert f.get_memorized_lines() == LINES


def test_bytes_files_and_forwarded_attributes() -> None:
    raw = io.BytesIO(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody")
    f = MemorizingFile(raw)
    assert f.readline() == b"GET / HTTP/1.1\r\n"
    assert f.readline() == b"Host: x\r\n"
    assert f.readline() == b"\r\n"
    assert f.read() == b"body"  # read is the file's own: not memorized
    assert f.tell() == raw.tell()
    assert f.get_memorized_lines() == [b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"]
    f.close()
    assert raw.closed
