"""The pure protocol core: bytes in, events out. No sockets, threads or logging."""
