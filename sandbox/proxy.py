"""A TCP proxy in front of a sandbox endpoint that can be taken down and brought back: an outage.

moto keeps its state in memory, so stopping it would lose every resource; taking its endpoint away
instead looks the same to a client (connections refused, open ones reset) and keeps the state for
when it "comes back". Used by the fault tests and available to anyone trying Remedy in the sandbox.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit

CHUNK = 65536


class OutageProxy:
    """Forwards 127.0.0.1:<port> to `target` ("http://host:port") until `down()`, again after `up()`."""

    def __init__(self, target: str, port: int = 0) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.scheme = parts.scheme or "http"
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        #: hanging: connections are accepted and held, never forwarded nor answered
        self._hanging = False
        self._held: set[socket.socket] = set()
        self.port = port
        self.up()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    def hang(self) -> None:
        """A server that hangs: new connections are accepted and never answered (a client's
        connect succeeds, its calls wait), and the open ones are reset. `up()` ends it."""
        self.down()
        with self._lock:
            self._hanging = True
        self._listen()

    def up(self) -> None:
        """Listen again on the same port (and forward again after `hang()`: the connections it
        held are reset, so their clients reconnect)."""
        with self._lock:
            held, self._held = self._held, set()
            self._hanging = False
        for connection in held:
            with contextlib.suppress(OSError):
                connection.close()
        self._listen()

    def _listen(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(256)
            self.port = listener.getsockname()[1]
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Stop listening (new connections are refused) and reset every open connection."""
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._open = self._open, set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for connection in connections:
            with contextlib.suppress(OSError):
                # RST rather than FIN: what a crashed server's peer sees
                connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
            with contextlib.suppress(OSError):
                connection.close()

    def stop(self) -> None:
        self.down()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # down()
            with self._lock:
                if self._hanging:
                    self._held.add(client)  # kept open, never read from: it hangs
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._open |= {client, upstream}
            finished = threading.Semaphore(0)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(source, sink, finished), daemon=True
                ).start()
            threading.Thread(
                target=self._close_after, args=(client, upstream, finished), daemon=True
            ).start()

    def _pump(
        self, source: socket.socket, sink: socket.socket, finished: threading.Semaphore
    ) -> None:
        try:
            while chunk := source.recv(CHUNK):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
            finished.release()

    def _close_after(
        self, client: socket.socket, upstream: socket.socket, finished: threading.Semaphore
    ) -> None:
        finished.acquire()
        finished.acquire()
        with self._lock:
            self._open -= {client, upstream}
        for connection in (client, upstream):
            with contextlib.suppress(OSError):
                connection.close()
