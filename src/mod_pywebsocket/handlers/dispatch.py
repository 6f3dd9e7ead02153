"""Handler discovery and dispatch (API.md section 1).

A :class:`Dispatcher` scans the scan directory once, loads every ``*_wsh.py``
file into its own module namespace, and maps resource paths to
:class:`HandlerSuite` objects. A file that fails to load is reported with its
path, line and error, and skipped; the rest keep working.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Self

from ..protocol import constants as c
from ..protocol.handshake import path_of

if TYPE_CHECKING:
    from ..options import ServerOptions

_logger = logging.getLogger("mod_pywebsocket.dispatch")

_SOURCE_SUFFIX = "_wsh.py"
_DO_EXTRA_HANDSHAKE = "web_socket_do_extra_handshake"
_TRANSFER_DATA = "web_socket_transfer_data"
_PASSIVE_CLOSING = "web_socket_passive_closing_handshake"


class DispatchException(Exception):
    """A configuration error (bad scan directory, bad alias), or a request no
    handler can take; ``status`` is the HTTP status for the latter (pywebsocket3)."""

    def __init__(self, name: str, status: int = c.HTTP_STATUS_NOT_FOUND) -> None:
        super().__init__(name)
        self.status = status


def default_passive_closing_handshake(request: Any) -> tuple[int | None, str]:
    """RFC 6455 5.5.1: echo a normal closure when the handler does not say otherwise."""
    return c.STATUS_NORMAL_CLOSURE, ""


@dataclass(frozen=True)
class HandlerSuite:
    """The functions of one handler file."""

    path: str
    do_extra_handshake: Callable[[Any], Any]
    transfer_data: Callable[[Any], Any]
    passive_closing_handshake: Callable[[Any], Any]

    # Which functions are ``async def`` (asked once, not on every connection).

    @cached_property
    def async_extra_handshake(self) -> bool:
        return inspect.iscoroutinefunction(self.do_extra_handshake)

    @cached_property
    def async_transfer_data(self) -> bool:
        return inspect.iscoroutinefunction(self.transfer_data)


def is_under(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or lies below it, as written (resolve symlinks
    first). The one check of containment: the handler root, the document root
    and the CGI directories all use it."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resource_of(root: str, path: str) -> str:
    """``<root>/a/b_wsh.py`` serves ``/a/b``; ``<root>/_wsh.py`` serves ``/``."""
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    return "/" + rel[: -len(_SOURCE_SUFFIX)]


def _error_line(exc: BaseException, path: str) -> int | None:
    if isinstance(exc, SyntaxError) and exc.filename == path:
        return exc.lineno
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == path:
            return frame.lineno
    return None


def load_handler(path: str, encoding: str | None = None) -> HandlerSuite:
    """Execute one handler file in a fresh module; raises on any failure."""
    with open(path, "rb") as f:
        raw = f.read()
    source: str | bytes = raw.decode(encoding) if encoding else raw
    code = compile(source, path, "exec")
    name = "_wsh_" + re.sub(r"\W", "_", path)
    module = types.ModuleType(name)
    module.__file__ = path
    exec(code, module.__dict__)
    namespace = module.__dict__
    missing = [f for f in (_DO_EXTRA_HANDSHAKE, _TRANSFER_DATA) if not callable(namespace.get(f))]
    if missing:
        raise DispatchException(f"{' and '.join(missing)} not defined")
    passive = namespace.get(_PASSIVE_CLOSING)
    return HandlerSuite(
        path=path,
        do_extra_handshake=namespace[_DO_EXTRA_HANDSHAKE],
        transfer_data=namespace[_TRANSFER_DATA],
        passive_closing_handshake=passive
        if callable(passive)
        else (default_passive_closing_handshake),
    )


class Dispatcher:
    """Maps resource paths to the handlers found under ``root_dir``."""

    def __init__(
        self,
        root_dir: str,
        scan_dir: str | None = None,
        allow_handlers_outside_root_dir: bool = False,
        handler_encoding: str | None = None,
    ) -> None:
        self._root = os.path.realpath(root_dir)
        self._root_given = os.path.abspath(root_dir)
        scan = os.path.realpath(scan_dir) if scan_dir else self._root
        if not is_under(scan, self._root):
            raise DispatchException(
                f"scan directory {scan_dir!r} must be under the handler root {root_dir!r}"
            )
        self._allow_outside = allow_handlers_outside_root_dir
        self._encoding = handler_encoding
        self._handlers: dict[str, HandlerSuite] = {}
        self._warnings: list[str] = []
        if not os.path.isdir(self._root):
            # pywebsocket3 serves on with no handlers; say so loudly.
            self._warn(f"handler root {root_dir!r} is not a directory: no handlers loaded")
            return
        self._scan(
            os.path.normpath(os.path.join(self._root_given, os.path.relpath(scan, self._root)))
        )

    @classmethod
    def from_options(cls, options: ServerOptions, logger: logging.Logger | None = None) -> Self:
        """The dispatcher the options describe: the handlers of ``websock_handlers``
        (``scan_dir``, ``allow_handlers_outside_root_dir``, ``handler_encoding``)
        and the aliases of ``websock_handlers_map_file``. Every driver builds its
        dispatcher here. With ``logger``, each loading problem is logged once, as
        a warning; a bad scan directory or an unreadable map file raises."""
        dispatcher = cls(
            options.websock_handlers,
            options.scan_dir,
            options.allow_handlers_outside_root_dir,
            options.handler_encoding,
        )
        if options.websock_handlers_map_file:
            dispatcher.load_alias_file(options.websock_handlers_map_file)
        if logger is not None:
            for warning in dispatcher.source_warnings():
                logger.warning("handler problem: %s", warning)
        return dispatcher

    def _scan(self, scan_dir: str) -> None:
        for dirpath, dirnames, filenames in os.walk(scan_dir, followlinks=True):
            dirnames.sort()
            for filename in sorted(filenames):
                if filename.lower().endswith(_SOURCE_SUFFIX):  # pywebsocket3: any case
                    self._register(os.path.join(dirpath, filename))

    def _register(self, path: str) -> None:
        real = os.path.realpath(path)
        if not self._allow_outside and not is_under(real, self._root):
            self._warn(
                f"{path}: skipped, its real path {real} is outside the handler root "
                "(see --allow-handlers-outside-root-dir)"
            )
            return
        resource = resource_of(self._root_given, path)
        try:
            suite = load_handler(path, self._encoding)
        except Exception as exc:
            line = _error_line(exc, path)
            where = f"{path}:{line}" if line else path
            self._warn(f"{where}: failed to load handler: {type(exc).__name__}: {exc}")
            return
        self._handlers[resource] = suite

    def _warn(self, message: str) -> None:
        """Collect a loading problem; whoever serves the handlers logs it once
        (as pywebsocket3's server did, its dispatcher logging nothing)."""
        self._warnings.append(message)

    def source_warnings(self) -> list[str]:
        """The problems met while loading handlers (pywebsocket3 name)."""
        return list(self._warnings)

    def add_resource_path_alias(
        self, alias_resource_path: str, existing_resource_path: str
    ) -> None:
        """Serve ``existing_resource_path``'s handler at ``alias_resource_path`` too."""
        suite = self._handlers.get(existing_resource_path)
        if suite is None:
            raise DispatchException(
                f"no handler for {existing_resource_path!r}, cannot alias {alias_resource_path!r}"
            )
        self._handlers[alias_resource_path] = suite

    def load_alias_file(self, map_file: str) -> None:
        """Read ``alias existing`` lines; ``#`` starts a comment."""
        with open(map_file, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                text = line.split("#", 1)[0].strip()
                if not text:
                    continue
                fields = text.split()
                if len(fields) != 2:
                    self._warn(f"{map_file}:{number}: expected 'alias existing', got {text!r}")
                    continue
                try:
                    self.add_resource_path_alias(fields[0], fields[1])
                except DispatchException as exc:
                    self._warn(f"{map_file}:{number}: {exc}")

    def get_handler_suite(self, resource: str) -> HandlerSuite | None:
        """The handler for a resource; the query is cut, the path matched exactly."""
        return self._handlers.get(path_of(resource))

    def handler_for(self, resource: str) -> HandlerSuite | None:
        """The handler of a request's resource, which may end in ``#fragment``; None
        when no handler serves its path. A fragment on a resource that has a
        handler raises DispatchException with 400 (RFC 6455 3: a WebSocket URI
        has none); on one without, the answer stays "no handler" (404)."""
        path, fragment, _ = resource.partition("#")
        suite = self._handlers.get(path_of(path))
        if suite is not None and fragment:
            raise DispatchException(
                "Fragment identifiers MUST NOT be used on WebSocket URIs", c.HTTP_STATUS_BAD_REQUEST
            )
        return suite

    def resources(self) -> list[str]:
        return sorted(self._handlers)
