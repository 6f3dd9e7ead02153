"""``pywebsocket3.headerparserhandler``: the mod_python entry point under the newer name.

``PythonHeaderParserHandler pywebsocket3.headerparserhandler`` serves the
same as ``mod_pywebsocket.headerparserhandler``: this module puts that one in
its own place in ``sys.modules``, so both names are one module with one
driver. It needs mod_python, so the package does not alias it at import
like the other modules.
"""

from __future__ import annotations

import sys

from mod_pywebsocket import headerparserhandler as _headerparserhandler

sys.modules[__name__] = _headerparserhandler
