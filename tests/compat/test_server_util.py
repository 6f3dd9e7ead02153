"""server_util: pywebsocket3's configure_logging and ThreadMonitor."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import pywebsocket3.server_util
from mod_pywebsocket import server_util, util

DEFLATER_LOGGER = logging.getLogger("mod_pywebsocket.util._Deflater")
INFLATER_LOGGER = logging.getLogger("mod_pywebsocket.util._Inflater")


def options(**overrides: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "log_level": "warn",
        "log_file": "",
        "log_max": 256 * 1024,
        "log_count": 5,
        "deflate_log_level": "warn",
    }
    values.update(overrides)
    return argparse.Namespace(**values)


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, with its level and handlers put back afterwards."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers), DEFLATER_LOGGER.level, INFLATER_LOGGER.level)
    yield root
    for handler in root.handlers:
        if handler not in saved[1]:
            handler.close()
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    DEFLATER_LOGGER.setLevel(saved[2])
    INFLATER_LOGGER.setLevel(saved[3])
    server_util._installed_handler = None


def ours(root: logging.Logger, before: list[logging.Handler]) -> list[logging.Handler]:
    return [h for h in root.handlers if h not in before]


def test_both_import_names_are_one_module() -> None:
    assert pywebsocket3.server_util is server_util


def test_stream_handler_levels_and_fine(root_logger: logging.Logger) -> None:
    before = list(root_logger.handlers)
    server_util.configure_logging(options(log_level="fine", deflate_log_level="debug"))
    assert logging.getLevelName(9) == "FINE"
    assert root_logger.level == 9
    [handler] = ours(root_logger, before)
    assert type(handler) is logging.StreamHandler
    assert handler.formatter is not None
    assert handler.formatter._fmt == "[%(asctime)s] [%(levelname)s] %(name)s: %(message)s"
    assert DEFLATER_LOGGER.level == logging.DEBUG == INFLATER_LOGGER.level
    assert util.get_class_logger(util._Deflater(15)) is DEFLATER_LOGGER
    # A second call replaces its own handler and leaves the others alone.
    server_util.configure_logging(options(log_level="warn"))
    assert len(ours(root_logger, before)) == 1
    assert root_logger.handlers[: len(before)] == before
    assert root_logger.level == logging.WARNING
    assert DEFLATER_LOGGER.level == logging.WARNING


def test_rotating_file(root_logger: logging.Logger, tmp_path: Path) -> None:
    before = list(root_logger.handlers)
    log_file = tmp_path / "server.log"
    server_util.configure_logging(
        options(log_level="info", log_file=str(log_file), log_max=1000, log_count=3)
    )
    [handler] = ours(root_logger, before)
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert (handler.maxBytes, handler.backupCount) == (1000, 3)
    logging.getLogger("mod_pywebsocket.test").info("hello %s", "file")
    handler.flush()
    assert "[INFO] mod_pywebsocket.test: hello file" in log_file.read_text()


@pytest.mark.parametrize(
    ("name", "level"),
    [("debug", 10), ("info", 20), ("warn", 30), ("warning", 30), ("error", 40), ("critical", 50)],
)
def test_level_names(root_logger: logging.Logger, name: str, level: int) -> None:
    server_util.configure_logging(options(log_level=name))
    assert root_logger.level == level


def test_unknown_level(root_logger: logging.Logger) -> None:
    with pytest.raises(ValueError, match="loud"):
        server_util.configure_logging(options(log_level="loud"))


def test_thread_monitor_logs_the_live_threads(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mod_pywebsocket.server_util.ThreadMonitor")
    monitor = server_util.ThreadMonitor(0.01)
    assert monitor.daemon and monitor.name == "ThreadMonitor"
    monitor.start()
    deadline = time.monotonic() + 10
    while len(caplog.records) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    monitor.stop()
    monitor.join(5)
    assert not monitor.is_alive()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) >= 2
    assert "active threads: " in messages[0] and "ThreadMonitor" in messages[0]


def test_takes_the_standalone_options(root_logger: logging.Logger, tmp_path: Path) -> None:
    from mod_pywebsocket import standalone

    parsed, _ = standalone._parse_args_and_config(
        ["--log-level", "info", "--deflate-log-level", "debug", "-l", str(tmp_path / "l.log")]
    )
    server_util.configure_logging(parsed)
    assert root_logger.level == logging.INFO
    assert DEFLATER_LOGGER.level == logging.DEBUG
