"""The ``pywebsocket3`` import name, as an alias of ``mod_pywebsocket``'s modules.

Handlers written for pywebsocket3 import ``pywebsocket3.msgutil`` and the
like; here that name is served by an import hook, not by a second copy of
the package, so ``pywebsocket3.msgutil is mod_pywebsocket.msgutil`` and
exceptions, constants and handler state are shared.

No ``pywebsocket3`` directory is installed, so the real pywebsocket3
distribution can be installed beside this one without either overwriting
the other's files (pip does not detect such clashes, and uninstalling one
would break the other). Two hooks:

* the installed ``mod_pywebsocket-pywebsocket3.pth`` appends the finder at the
  end of ``sys.meta_path`` at interpreter start: ``import pywebsocket3``
  resolves to this package only when no other ``pywebsocket3`` is installed;
* importing ``mod_pywebsocket`` (this server, a harness embedding it, the
  Apache handler) puts the finder first: in that process ``pywebsocket3`` is
  this package, and a shadowed real distribution is reported by
  :func:`shadowed_distribution`.

This module is imported at every interpreter start (through the .pth file),
so it imports nothing beyond the standard import machinery until
``pywebsocket3`` is actually imported.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from types import CodeType, ModuleType

ALIAS = "pywebsocket3"
TARGET = "mod_pywebsocket"


def _target_name(fullname: str) -> str:
    return TARGET + fullname[len(ALIAS) :]


class _AliasLoader:  # the Loader protocol; importlib.abc costs 30 ms to import
    """Hands out the ``mod_pywebsocket`` module itself under the alias name."""

    def __init__(self, target: str) -> None:
        self._target = target
        self._original_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self._target)
        self._original_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system set the alias spec on the shared module; give it back its own.
        if self._original_spec is not None:
            module.__spec__ = self._original_spec
        # Now that the name is ours, the finder must come before the path finder:
        # otherwise ``pywebsocket3.msgutil`` would be found as a file under the
        # shared ``__path__`` and loaded a second time.
        install(first=True)

    # What runpy needs for ``python -m pywebsocket3.standalone``.

    def get_code(self, fullname: str) -> CodeType | None:
        spec = importlib.util.find_spec(self._target)
        loader = spec.loader if spec is not None else None
        get_code = getattr(loader, "get_code", None)
        return get_code(self._target) if get_code is not None else None

    def is_package(self, fullname: str) -> bool:
        spec = importlib.util.find_spec(self._target)
        return spec is not None and spec.submodule_search_locations is not None


class AliasFinder:  # the MetaPathFinder protocol
    """Finds ``pywebsocket3`` and ``pywebsocket3.*`` as ``mod_pywebsocket`` modules."""

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != ALIAS and not fullname.startswith(ALIAS + "."):
            return None
        name = _target_name(fullname)
        real = importlib.util.find_spec(name)
        if real is None:
            return None
        return importlib.machinery.ModuleSpec(
            fullname,
            _AliasLoader(name),  # type: ignore[arg-type]
            is_package=real.submodule_search_locations is not None,
        )


_FINDER = AliasFinder()


def install(first: bool = False) -> None:
    """Put the finder on ``sys.meta_path``: first (this process means us) or last."""
    if _FINDER in sys.meta_path:
        if not first or sys.meta_path[0] is _FINDER:
            return
        sys.meta_path.remove(_FINDER)
    if first:
        sys.meta_path.insert(0, _FINDER)
    else:
        sys.meta_path.append(_FINDER)


def shadowed_distribution() -> str | None:
    """The installed distribution that also provides ``pywebsocket3``, if any.

    With the finder first, this process uses this package under that name;
    other processes get the other distribution.
    """
    loaded = sys.modules.get(ALIAS)
    if loaded is not None and getattr(loaded, "__name__", None) != TARGET:
        return f"the pywebsocket3 module already imported from {loaded.__file__}"
    for finder in sys.meta_path:
        if finder is _FINDER:
            continue
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        try:
            spec = find_spec(ALIAS, None)
        except Exception:  # a third-party finder that cannot answer
            continue
        if spec is not None:
            return f"pywebsocket3 at {spec.origin or spec.submodule_search_locations}"
    return None
