"""The Sans-I/O session layer: from a request head to a finished handler, with no I/O.

Between the protocol core (``protocol/``, frames and handshake rules) and the
drivers (``server/``, sockets and threads), this package owns what every way
of running handlers shares, as functions that take values and return values:

- ``http1``: the HTTP/1.1 binding: an incremental request-head reader with
  the limits, the Upgrade checks (GET, HTTP/1.1, Upgrade/Connection, key),
  routing a request to its handler, and the bytes of Accept and Reject;
- ``handshake``: the version-independent part (finding the handler, the
  Request, version, origin, subprotocol, extensions), the handler's extra
  handshake, and the outcomes ``Accept`` / ``Reject`` / ``Drop``, with the
  one map from a handshake error to its HTTP status;
- ``lifecycle``: ``web_socket_transfer_data`` and the map from an escaping
  exception to a close code; the passive-close, ping, failure and keepalive
  decisions.

It imports ``protocol/`` and ``handlers/``, never a driver; a driver calls
these and does the reads and writes. A driver over HTTP/1.1 (threaded,
mod_python, a future asyncio one, the scripted one in tests/session) feeds
``http1.RequestHeadReader``, calls ``http1.route`` and ``handshake.negotiate``,
writes ``Accept.response`` or ``http1.reject_bytes(reject)``, then feeds
``Accept.core`` (a ``protocol.state.WebSocketCore``) and applies the
``lifecycle`` decisions in its ``ws_stream``. An RFC 8441 (HTTP/2 CONNECT)
driver replaces only ``http1``: it checks ``:method``/``:protocol`` itself,
then calls ``handshake.locate``, ``new_request``, ``read_client_offer``,
``apply_offer`` and ``negotiate`` with a ``Dialect`` whose accept returns its
own response (``:status 200``) and ``new_core``.
"""
