"""The mod_python entry point: ``PythonHeaderParserHandler mod_pywebsocket.headerparserhandler``.

WebSocket upgrade requests for a resource with a handler are served here;
everything else is DECLINED and Apache serves it as usual. Configuration is
read from ``PythonOption mod_pywebsocket.*`` (see docs/apache.md) once per
Apache process and distinct option set.
"""

from __future__ import annotations

import logging
from typing import Any

from mod_python import apache  # type: ignore[import-not-found]  # only inside Apache

from .server.modpython import ApacheDriver, ApacheLogHandler

__all__ = ["ApacheLogHandler", "headerparserhandler"]

_handler = ApacheLogHandler(apache=apache)
_package_logger = logging.getLogger("mod_pywebsocket")
_package_logger.addHandler(_handler)
_package_logger.setLevel(logging.INFO)
_package_logger.propagate = False

_driver = ApacheDriver(apache)


def headerparserhandler(request: Any) -> int:
    """mod_python calls this for every request in the configured scope."""
    return _driver.handle(request)
