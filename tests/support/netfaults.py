"""Network faults on real loopback sockets, for the "AWS cannot be reached" tests."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType


class SilentServer:
    """A listener that accepts every connection and never answers (holds it open): what an endpoint behind
    a proxy or a half-dead load balancer looks like — connects succeed, every read times out."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._spans: list[list[float | None]] = []  # per connection: [accepted at, client gone at] (monotonic)
        self._readers: list[threading.Thread] = []
        self._closed = False
        threading.Thread(target=self._accept, name="silent-server", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            span: list[float | None] = [time.monotonic(), None]
            self._spans.append(span)
            self.accepted += 1
            self._held.append(conn)  # never answered, closed only at the end
            reader = threading.Thread(target=self._until_gone, args=(conn, span), name="silent-reader", daemon=True)
            self._readers.append(reader)
            reader.start()

    @staticmethod
    def _until_gone(conn: socket.socket, span: list[float | None]) -> None:
        """Read (and drop) what the client sends until it closes: when it gave up waiting."""
        with contextlib.suppress(OSError):
            while conn.recv(4096):
                pass
        span[1] = time.monotonic()

    def spans(self, wait: float = 5.0) -> list[tuple[float, float | None]]:
        """(accepted at, client gone at) per connection, once every client is gone (or ``wait`` passed)."""
        for reader in list(self._readers):
            reader.join(wait)
        return [(float(a or 0.0), b) for a, b in self._spans]

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.sock.close()
        for conn in self._held:
            with contextlib.suppress(OSError):
                conn.close()

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
