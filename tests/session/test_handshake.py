"""The version-independent handshake: finding the handler, the offer, the Request."""

from __future__ import annotations

from pathlib import Path

from mod_pywebsocket.handlers.dispatch import Dispatcher
from mod_pywebsocket.options import ServerOptions
from mod_pywebsocket.protocol.handshake import Headers, HttpRequest
from mod_pywebsocket.session import handshake

HANDLERS = Path(__file__).resolve().parents[1] / "server" / "handlers"


def test_locate() -> None:
    dispatcher = Dispatcher(str(HANDLERS))
    found = handshake.locate(dispatcher, "/echo?a=b")
    assert isinstance(found, handshake.Located) and found.resource == "/echo?a=b"
    missing = handshake.locate(dispatcher, "/none")
    assert isinstance(missing, handshake.Reject) and missing.status == 404
    assert handshake.locate(dispatcher, "/none", decline_unknown=True) is None
    fragment = handshake.locate(dispatcher, "/echo#x")
    assert isinstance(fragment, handshake.Reject) and fragment.status == 400


def test_an_offer_read_from_headers_alone_fills_the_request() -> None:
    # What an RFC 8441 binding would do: no Upgrade, no key, the same offer.
    headers = Headers(
        [
            ("Sec-WebSocket-Version", "13"),
            ("Origin", "https://o.test"),
            ("Sec-WebSocket-Protocol", "chat, superchat"),
            ("Sec-WebSocket-Extensions", "permessage-deflate"),
        ]
    )
    offer = handshake.read_client_offer(headers)
    assert (offer.version, offer.origin, offer.protocols) == (
        13,
        "https://o.test",
        ["chat", "superchat"],
    )
    request = handshake.new_request(
        HttpRequest("CONNECT", "/echo", "HTTP/2", headers), "/echo", None, secure=True
    )  # type: ignore[arg-type]
    handshake.apply_offer(request, offer, ServerOptions(websock_handlers=str(HANDLERS)))
    assert request.ws_version == 13 and request.is_https()
    assert [e.name() for e in request.ws_requested_extensions or []] == ["permessage-deflate"]
    assert request.ws_extension_processors  # deflate is on by default


def test_a_version_we_do_not_speak_names_ours() -> None:
    try:
        handshake.read_client_offer(Headers([("Sec-WebSocket-Version", "7")]))
    except handshake.HandshakeException as exc:
        reject = handshake.reject_for(exc)
    assert reject.status == 400 and reject.headers == (("Sec-WebSocket-Version", "13, 8"),)
