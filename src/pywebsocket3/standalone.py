"""``python -m pywebsocket3.standalone``: the same command line as mod_pywebsocket's."""

from __future__ import annotations

import sys

from mod_pywebsocket.standalone import (  # noqa: F401  (embedders use these names)
    WebSocketServer,
    _build_option_parser,
    _parse_args_and_config,
    build_option_parser,
    configure_logging,
    main,
)

if __name__ == "__main__":
    sys.exit(main())
