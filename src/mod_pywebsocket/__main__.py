"""``python -m mod_pywebsocket``: the standalone server's command line."""

import sys

from mod_pywebsocket.standalone import main

sys.exit(main())
