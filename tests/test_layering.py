"""The layering of ARCHITECTURE.md as a gate: arrows point down only.

Every module under ``src/mod_pywebsocket`` is parsed with ``ast`` (nothing
is imported) and each import, relative ones resolved, is checked against
the rules below. An import inside a function or under ``TYPE_CHECKING``
counts too: it is still an arrow. A failure names each offending
``file:line`` and what it imports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "mod_pywebsocket"

# The drivers: they own sockets and threads (server/) or wire one to options.
DRIVERS = (
    "mod_pywebsocket.server",
    "mod_pywebsocket.standalone",
    "mod_pywebsocket.embedding",
    "mod_pywebsocket.headerparserhandler",
)
# What the session layer must not know: the drivers that run it.
SESSION_FORBIDDEN = (
    "mod_pywebsocket.server.threaded",
    "mod_pywebsocket.server.modpython",
    "mod_pywebsocket.standalone",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of each import in ``source``, the source of
    ``module``. ``from X import name`` yields ``X.name`` (name may be a module)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level > 1:
                    base_parts = base_parts[: -(node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base


def _is_within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _sources(under: Path) -> list[Path]:
    if under.is_file():
        return [under]
    return sorted(under.rglob("*.py")) if under.is_dir() else []


def _violations(
    files: list[Path], forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()
) -> list[str]:
    found = []
    for path in files:
        module = _module_name(path)
        source = path.read_text(encoding="utf-8")
        for line, name in imports_of(source, module, path.name == "__init__.py"):
            if _is_within(name, forbidden) and not _is_within(name, allowed):
                found.append(f"{path.relative_to(SRC.parent)}:{line}: imports {name}")
    return found


def test_protocol_imports_nothing_outside_protocol() -> None:
    """protocol/ is the Sans-I/O core: nothing of the package above it."""
    found = _violations(
        _sources(PACKAGE / "protocol"),
        forbidden=("mod_pywebsocket", "pywebsocket3", "_mod_pywebsocket_alias"),
        allowed=("mod_pywebsocket.protocol",),
    )
    assert not found, "protocol/ imports from outside protocol/:\n" + "\n".join(found)


def test_handlers_import_no_driver() -> None:
    """handlers/ (discovery, loading, the Request) is shared by every driver."""
    found = _violations(_sources(PACKAGE / "handlers"), forbidden=DRIVERS)
    assert not found, "handlers/ imports a driver:\n" + "\n".join(found)


def _session_layer() -> list[Path]:
    return _sources(PACKAGE / "session") + _sources(PACKAGE / "server" / "session.py")


@pytest.mark.skipif(not _session_layer(), reason="no session layer in this tree")
def test_session_layer_imports_no_driver() -> None:
    """The session layer (session/, and server/session.py while it lives there)
    runs under any driver, so it names none of them."""
    found = _violations(_session_layer(), forbidden=SESSION_FORBIDDEN)
    assert not found, "the session layer imports a driver:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "module", "is_package", "expected"),
    [
        (
            "from ..server import threaded",
            "mod_pywebsocket.handlers.dispatch",
            False,
            "mod_pywebsocket.server.threaded",
        ),
        (
            "from .. import standalone",
            "mod_pywebsocket.session",
            True,
            "mod_pywebsocket.standalone",
        ),
        (
            "from . import frames",
            "mod_pywebsocket.protocol.connection",
            False,
            "mod_pywebsocket.protocol.frames",
        ),
        (
            "def f():\n    import mod_pywebsocket.options",
            "mod_pywebsocket.protocol.x",
            False,
            "mod_pywebsocket.options",
        ),
        (
            "from ..server.modpython import X",
            "mod_pywebsocket.session.core",
            False,
            "mod_pywebsocket.server.modpython.X",
        ),
    ],
)
def test_imports_are_resolved(source: str, module: str, is_package: bool, expected: str) -> None:
    """The checker itself: relative and nested imports resolve to absolute names."""
    assert [name for _, name in imports_of(source, module, is_package)] == [expected]


def test_a_violation_names_file_and_line() -> None:
    assert _is_within("mod_pywebsocket.server.threaded", DRIVERS)
    assert not _is_within("mod_pywebsocket.serverless", DRIVERS)
    assert _is_within("mod_pywebsocket.server.modpython.X", SESSION_FORBIDDEN)
    found = _violations(
        [PACKAGE / "handlers" / "dispatch.py"], forbidden=("mod_pywebsocket",), allowed=()
    )
    assert found and all(f.startswith("src/mod_pywebsocket/handlers/dispatch.py:") for f in found)
