"""Ports for the servers tests start: always on 127.0.0.1, never one a test hard-codes."""

import socket


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
