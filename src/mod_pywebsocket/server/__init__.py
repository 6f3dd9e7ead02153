"""Drivers: they own sockets and threads and feed bytes to the protocol core."""
