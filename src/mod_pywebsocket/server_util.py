"""``server_util``: pywebsocket3's logging set-up and thread monitor for the standalone server.

A compatibility face for harnesses that embed the server and call
``server_util.configure_logging(options)`` with options from
``standalone._parse_args_and_config``, as pywebsocket3's own ``standalone``
did.
"""

from __future__ import annotations

import logging
import logging.handlers
import threading
from typing import Any

from . import common, util

_FORMAT = "[%(asctime)s] [%(levelname)s] %(name)s: %(message)s"
# The root handler the last configure_logging call added.
_installed_handler: logging.Handler | None = None


def _level(name: str) -> int:
    """The numeric level of a --log-level name (fine, debug, info, warn, warning, ...)."""
    level = logging.getLevelName(name.upper())
    if not isinstance(level, int):
        raise ValueError(f"unknown log level {name!r}")
    return level


def _class_logger(cls: type) -> logging.Logger:
    """The logger util.get_class_logger gives the instances of ``cls``."""
    return logging.getLogger(f"{cls.__module__}.{cls.__name__}")


def configure_logging(options: Any) -> None:
    """Log as ``--log-level`` / ``--log-file`` / ``--log-max`` / ``--log-count`` say.

    Registers the FINE level (9), sets the root logger's level, and adds one
    handler for the root logger: a rotating file when ``options.log_file`` is
    set, else standard error. The handler added by an earlier call is replaced
    rather than doubled; handlers others installed are left alone.
    ``options.deflate_log_level`` applies to the loggers of util's _Deflater and
    _Inflater, which log every byte they handle at DEBUG.
    """
    logging.addLevelName(common.LOGLEVEL_FINE, "FINE")
    root = logging.getLogger()
    root.setLevel(_level(options.log_level))
    handler: logging.Handler
    if options.log_file:
        handler = logging.handlers.RotatingFileHandler(
            options.log_file, "a", options.log_max, options.log_count
        )
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    global _installed_handler
    if _installed_handler is not None:
        root.removeHandler(_installed_handler)
        _installed_handler.close()
    _installed_handler = handler
    root.addHandler(handler)
    deflate_level = _level(options.deflate_log_level)
    _class_logger(util._Deflater).setLevel(deflate_level)
    _class_logger(util._Inflater).setLevel(deflate_level)


class ThreadMonitor(threading.Thread):
    """A daemon thread that logs the live threads (count and names) at INFO every interval.

    ``stop()`` ends it (pywebsocket3's ran until the process exited).
    """

    def __init__(self, interval_in_sec: float) -> None:
        super().__init__(name="ThreadMonitor", daemon=True)
        self._logger = util.get_class_logger(self)
        self._interval_in_sec = interval_in_sec
        self._stopped = threading.Event()

    def run(self) -> None:
        while True:
            names = [thread.name for thread in threading.enumerate()]
            self._logger.info("%d active threads: %s", threading.active_count(), ", ".join(names))
            if self._stopped.wait(self._interval_in_sec):
                return

    def stop(self) -> None:
        self._stopped.set()
