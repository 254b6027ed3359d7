"""A TCP proxy for playing network outages: put it between a process and a server, then
`pause()` it (new connections are refused, open ones are cut) and `resume()` it (same port).

It runs on threads, not on the test's event loop: it keeps forwarding while a test blocks
(waits on a process, reads a log), and the processes behind it never depend on the test loop.

    with TcpProxy(5672) as proxy:
        env["BROKER_URL"] = f"amqp://guest:guest@127.0.0.1:{proxy.port}/vhost"
        proxy.pause()    # RabbitMQ "down" for whoever goes through the proxy
        proxy.resume()   # back
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

#: How often the accept loop checks whether it must stop.
ACCEPT_POLL = 0.1


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        with contextlib.closing(socket.socket()) as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.connections = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._server: socket.socket | None = None
        self._accepting = threading.Event()
        self._acceptor: threading.Thread | None = None

    def url(self, scheme: str, rest: str = "") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{rest}"

    @property
    def paused(self) -> bool:
        return self._server is None

    def start(self) -> TcpProxy:
        self.resume()
        return self

    def resume(self) -> None:
        """Accepts (and forwards) connections on `port` again."""
        if self._server is not None:
            return
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        server.settimeout(ACCEPT_POLL)
        self._server = server
        self._accepting.set()
        self._acceptor = threading.Thread(target=self._accept, args=(server,), daemon=True)
        self._acceptor.start()

    def pause(self) -> None:
        """Refuses new connections (the port is closed) and cuts every open one."""
        self._accepting.clear()
        if self._acceptor is not None:
            self._acceptor.join()
            self._acceptor = None
        if self._server is not None:
            self._server.close()
            self._server = None
        with self._lock:
            sockets, self._open = set(self._open), set()
        for sock in sockets:
            _close(sock)

    stop = pause

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.pause()

    def _accept(self, server: socket.socket) -> None:
        while self._accepting.is_set():
            try:
                client, _address = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                if not self._accepting.is_set():
                    _close(client)
                    _close(upstream)
                    return
                self._open |= {client, upstream}
                self.connections += 1
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(target)
            _close(source)
            _close(target)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
