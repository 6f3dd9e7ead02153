"""The Sans-I/O session layer: from a request head to a finished handler, with no I/O.

Between the protocol core (``protocol/``, frames and handshake rules) and the
drivers (``server/``, sockets and threads), this package owns what every way
of running handlers shares, as functions that take values and return values:

- ``http1``: the HTTP/1.1 binding: an incremental request-head reader with
  the limits, the Upgrade checks (GET, HTTP/1.1, Upgrade/Connection, key),
  routing a request to its handler, and the bytes of Accept and Reject;
- ``handshake``: the version-independent part (version, origin,
  subprotocol, extensions), the handler's extra handshake, and the
  outcomes ``Accept`` / ``Reject`` / ``Drop``, with the one map from a
  handshake error to its HTTP status;
- ``lifecycle``: ``web_socket_transfer_data`` and the map from an escaping
  exception to a close code; the passive-close, ping and failure policies.

It imports ``protocol/`` and ``handlers/``, never a driver; a driver calls
these and does the reads and writes.
"""
