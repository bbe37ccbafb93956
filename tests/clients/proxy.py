"""A TCP proxy in front of the live server that can cut a connection in the middle of a response."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

LOG_LINE = b'"type":"log"'


class CuttingProxy:
    """Forwards connections to 127.0.0.1:`target`. The first response that carries log lines is cut right
    after its `cut_after`-th line: the client sees a connection dropped in the middle of a chunked body.
    With `swallow`, the first response holding those bytes is dropped whole instead."""

    def __init__(self, target: int, cut_after: int = 0, swallow: bytes | None = None,
                 marker: bytes = LOG_LINE) -> None:
        self.target = target
        self.cut_after = cut_after
        # What a counted line holds: a log line by default, `"type":"event"` for the events feed.
        self.marker = marker
        # The first response holding these bytes is not forwarded at all: the request had its effect, and
        # the client sees the connection close with no answer.
        self.swallow = swallow
        self.connections = 0
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False

    def serve(self) -> None:
        while not self._closed:
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(downstream, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, downstream, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, response: bool) -> None:
        seen = 0
        try:
            while data := source.recv(65536):
                if response and self.cuts == 0 and self.swallow is not None and self.swallow in data:
                    self.cuts += 1
                    break
                if response and self.cuts == 0 and self.cut_after and self.marker in data:
                    position = 0
                    while seen < self.cut_after and (found := data.find(self.marker, position)) >= 0:
                        seen += 1
                        position = data.index(b"\n", found) + 1
                    if seen >= self.cut_after:
                        self.cuts += 1
                        sink.sendall(data[:position])
                        break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()

    def close(self) -> None:
        self._closed = True
        # shutdown() wakes the thread blocked in accept(); close() alone would leave it waiting.
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()


@contextmanager
def cutting_proxy(target: int, cut_after: int = 0, swallow: bytes | None = None,
                  marker: bytes = LOG_LINE) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(target, cut_after, swallow, marker)
    thread = threading.Thread(target=proxy.serve, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.close()
        thread.join(5)
