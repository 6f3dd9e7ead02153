"""pywebsocket3.headerparserhandler is mod_pywebsocket's entry point (outside Apache: a stand-in
mod_python)."""

from __future__ import annotations

import importlib
import logging
import sys
import types
from collections.abc import Iterator

import pytest


@pytest.fixture
def stand_in_mod_python() -> Iterator[None]:
    """A mod_python whose apache.X are all 0; modules and the package logger restored after."""
    saved_modules = dict(sys.modules)
    package_logger = logging.getLogger("mod_pywebsocket")
    saved_logger = (list(package_logger.handlers), package_logger.level, package_logger.propagate)
    stub = types.ModuleType("mod_python")
    apache = types.ModuleType("mod_python.apache")
    apache.__getattr__ = lambda name: 0  # type: ignore[method-assign]
    stub.apache = apache  # type: ignore[attr-defined]
    sys.modules.update({"mod_python": stub, "mod_python.apache": apache})
    yield
    for name in set(sys.modules) - set(saved_modules):
        del sys.modules[name]
    for parent in ("mod_pywebsocket", "pywebsocket3"):
        if hasattr(sys.modules[parent], "headerparserhandler") and (
            "mod_pywebsocket.headerparserhandler" not in saved_modules
        ):
            delattr(sys.modules[parent], "headerparserhandler")
    package_logger.handlers[:] = saved_logger[0]
    package_logger.setLevel(saved_logger[1])
    package_logger.propagate = saved_logger[2]


def test_one_module_under_both_names(stand_in_mod_python: None) -> None:
    ours = importlib.import_module("mod_pywebsocket.headerparserhandler")
    newer = importlib.import_module("pywebsocket3.headerparserhandler")
    assert newer is ours
    import pywebsocket3

    assert pywebsocket3.headerparserhandler is ours  # type: ignore[attr-defined]
    assert callable(newer.headerparserhandler)
