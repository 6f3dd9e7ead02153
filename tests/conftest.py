"""Test-wide setup.

``mod_pywebsocket`` is imported first: in an editable install (``pip install
-e``) the ``pywebsocket3`` alias has no .pth hook, and importing the package
is what makes the name resolve (see src/_mod_pywebsocket_alias.py); a
regular install resolves it from interpreter start.
"""

import mod_pywebsocket  # noqa: F401
