"""The documentation: links resolve, the options table matches the parser, the site builds.

The site build needs the ``docs`` extra; without it that test skips, unless
MOD_PYWEBSOCKET_REQUIRE_DOCS=1 (set by .ci/run), where it fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from mod_pywebsocket import standalone
from tests.serving import serving

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted(DOCS.glob("*.md"))]
REQUIRE_DOCS_ENV = "MOD_PYWEBSOCKET_REQUIRE_DOCS"

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """Markdown without fenced blocks and code spans, whose brackets are not links."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def _slug(heading: str) -> str:
    """Python-Markdown's toc slug (what MkDocs uses): markup dropped, ASCII, dashes."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for _, heading in _HEADING.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        slug = base = _slug(heading)
        n = 0
        while slug in found:
            n += 1
            slug = f"{base}_{n}"
        found.add(slug)
    return found


def relative_links(page: Path) -> list[str]:
    return [
        target
        for target in _LINK.findall(_prose(page.read_text(encoding="utf-8")))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target)
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(page: Path) -> None:
    problems = []
    for target in relative_links(page):
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.is_relative_to(ROOT):
            problems.append(f"{target}: leaves the repository")
        elif page.parent == DOCS and not resolved.is_relative_to(DOCS):
            problems.append(f"{target}: leaves docs/, so the built site cannot serve it")
        elif not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading with anchor #{anchor}")
    assert not problems, f"{page.relative_to(ROOT)}: " + "; ".join(problems)


def test_every_page_is_checked_and_linked() -> None:
    assert len(PAGES) > 10
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        assert f" {page.name}" in nav, f"{page.name} is not in mkdocs.yml's nav"


# --- the options table ----------------------------------------------------------------


def options_table() -> dict[str, list[str]]:
    """The rows of docs/configuration.md's table, by each flag spelling in the first cell."""
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    section = text.split("## Every option", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if not line.startswith("| `-"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == 5, f"expected 5 cells: {line}"
        for flag in re.findall(r"`(-[^`]+)`", cells[0]):
            rows[flag] = cells
    return rows


def parser_flags() -> dict[str, argparse.Action]:
    """Every flag the parser defines, in its dashed spelling (underscored ones are aliases)."""
    flags = {}
    for action in standalone.build_option_parser()._actions:
        for option in action.option_strings:
            if "_" not in option:
                flags[option] = action
    return flags


def test_every_flag_has_a_row_in_the_options_table() -> None:
    rows, flags = options_table(), parser_flags()
    missing = sorted(set(flags) - set(rows))
    assert not missing, f"flags missing from docs/configuration.md: {missing}"
    unknown = sorted(set(rows) - set(flags))
    assert not unknown, f"docs/configuration.md lists flags the parser lacks: {unknown}"


def test_the_options_table_gives_the_parsers_defaults() -> None:
    rows = options_table()
    wrong = []
    for flag, action in parser_flags().items():
        if not flag.startswith("--") or flag not in rows:  # a missing row fails above
            continue
        cell = rows[flag][3]
        default = action.default
        if action.dest == "version":  # prints and exits: no value to default
            ok = cell.startswith("—")
        elif action.nargs == 0:  # a switch: off unless given
            ok = cell.startswith("off")
        elif default in (None, ""):
            ok = cell.startswith("—")
        else:
            shown = re.match(r"`([^`]+)`", cell)
            ok = shown is not None and (
                shown.group(1) == str(default)
                or (isinstance(default, int | float) and float(shown.group(1)) == default)
            )
        if not ok:
            wrong.append(f"{flag}: table says {cell!r}, the parser {default!r}")
    assert not wrong, "; ".join(wrong)


def test_every_server_option_is_a_documented_python_option() -> None:
    """Apache accepts every ServerOptions field as PythonOption mod_pywebsocket.<field>."""
    import dataclasses

    from mod_pywebsocket.options import ServerOptions

    documented = " ".join(cells[2] for cells in options_table().values())
    missing = [f.name for f in dataclasses.fields(ServerOptions) if f"`{f.name}`" not in documented]
    assert not missing, f"PythonOptions missing from docs/configuration.md: {missing}"


def test_config_keys_are_the_long_flag_names() -> None:
    for flag, cells in options_table().items():
        if flag.startswith("--") and cells[1] != "—":
            assert cells[1] == f"`{flag[2:]}`", (flag, cells[1])


# --- the site -------------------------------------------------------------------------


def test_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        reason = "MkDocs or its Material theme is not installed (pip install -e '.[docs]')"
        if os.environ.get(REQUIRE_DOCS_ENV) == "1":
            pytest.fail(f"{REQUIRE_DOCS_ENV}=1 but {reason}")
        pytest.skip(reason)
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for page in DOCS.glob("*.md"):
        built = site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), f"{page.name} was not built"


# --- the tutorial's handlers, run as a reader would run them --------------------------


def tutorial_handlers() -> dict[str, str]:
    """The tutorial's handler files: python blocks whose first line names a *_wsh.py file."""
    text = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    files = {}
    for block in re.findall(r"^```python\n(.*?)^```", text, re.M | re.S):
        first = block.splitlines()[0]
        m = re.match(r"# (\w+_wsh\.py):", first)
        if m:
            files[m.group(1)] = block
    return files


@pytest.fixture(scope="module")
def tutorial_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]

    handlers = tmp_path_factory.mktemp("handlers")
    for name, source in tutorial_handlers().items():
        (handlers / name).write_text(source, encoding="utf-8")
    options, _ = standalone._parse_args_and_config(
        ["-H", "127.0.0.1", "-p", "0", "-w", str(handlers), "-d", str(handlers)]
    )
    with serving(standalone.WebSocketServer(options)) as server:
        yield server


def test_the_tutorials_handlers_load(tutorial_server: standalone.WebSocketServer) -> None:
    names = {"/" + name[: -len("_wsh.py")] for name in tutorial_handlers()}
    assert names == {"/echo", "/chat", "/checksum", "/quota", "/private", "/counter", "/room"}
    assert tutorial_server.dispatcher.resources() == sorted(names)
    assert tutorial_server.dispatcher.source_warnings() == []


def test_the_tutorials_handlers_do_what_it_says(
    tutorial_server: standalone.WebSocketServer,
) -> None:
    import struct
    import zlib

    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    base = f"ws://127.0.0.1:{tutorial_server.server_port}"
    with connect(base + "/echo") as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"
        ws.send(b"\x00\x01")
        assert ws.recv(timeout=5) == b"\x00\x01"
    with connect(base + "/chat", subprotocols=["chat.v1", "chat.v2"]) as ws:
        assert ws.subprotocol == "chat.v2"
        ws.send("hi")
        assert ws.recv(timeout=5) == "[chat.v2] hi"
    with pytest.raises(InvalidStatus) as refused:
        connect(base + "/chat", subprotocols=["chat.v3"])
    assert refused.value.response.status_code == 400
    with connect(base + "/checksum") as ws:
        ws.send(b"abc")
        assert ws.recv(timeout=5) == struct.pack("!II", 3, zlib.crc32(b"abc"))
    with connect(base + "/quota") as ws:
        with pytest.raises(ConnectionClosed):
            while True:
                ws.send("x")
                ws.recv(timeout=5)
    assert (ws.close_code, ws.close_reason) == (4001, "quota of 3 messages used")
    with connect(base + "/quota") as ws:
        ws.close(1001)
    assert ws.close_code == 1001
    for query, origin, status in (
        ("?token=wrong", "http://localhost:8880", 401),
        ("?token=s3cret", "http://elsewhere", 403),
    ):
        with pytest.raises(InvalidStatus) as refused:
            connect(base + "/private" + query, origin=origin)  # type: ignore[arg-type]
        assert refused.value.response.status_code == status
    with connect(base + "/private?token=s3cret", origin="http://localhost:8880") as ws:  # type: ignore[arg-type]
        assert ws.recv(timeout=5) == "welcome"
    numbers = []
    for _ in range(2):
        with connect(base + "/counter") as ws:
            numbers.append(int(ws.recv(timeout=5).split()[-1]))
    assert numbers[1] == numbers[0] + 1
    with connect(base + "/room") as a, connect(base + "/room") as b:
        # b is in the room once its handler has registered it, just after the 101.
        for attempt in range(50):
            a.send(f"to everyone {attempt}")
            assert a.recv(timeout=5) == f"to everyone {attempt}"
            try:
                heard = b.recv(timeout=0.2)
                break
            except TimeoutError:
                continue
        assert heard.startswith("to everyone")
