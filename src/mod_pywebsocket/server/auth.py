"""HTTP Basic authentication for the standalone server (``--basic-auth``)."""

from __future__ import annotations

import base64
import hmac

from ..protocol.handshake import Headers, error_response

REALM = "mod_pywebsocket"


def is_authorized(headers: Headers, credential: str) -> bool:
    """True when the Authorization header carries ``user:password`` (constant time)."""
    expected = "Basic " + base64.b64encode(credential.encode("utf-8")).decode("ascii")
    given = headers.get("Authorization") or ""
    return hmac.compare_digest(given.strip().encode("utf-8", "replace"), expected.encode("ascii"))


def unauthorized_response() -> bytes:
    return error_response(
        401, "authentication required", [("WWW-Authenticate", f'Basic realm="{REALM}"')]
    )
