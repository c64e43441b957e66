"""Running the playground: uvicorn on a socket bound here, so that ``--port 0`` knows its port before it
prints it, with a clean stop on Ctrl-C (or SIGTERM) that also ends the event streams and training threads.
"""

from __future__ import annotations

import socket
import sys
import threading
from typing import Any

import uvicorn

from glassnet.playground.app import Playground, create_app
from glassnet.playground.security import Policy, is_loopback


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 takes a free one. It names its protocol: asyncio turns
    Nagle's algorithm off only on connections whose socket says IPPROTO_TCP, and with it on, every answer on a
    kept-alive connection waited some 40 ms for the browser's delayed acknowledgement of its headers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Uvicorn(uvicorn.Server):
    """uvicorn, telling the playground as soon as a stop is asked for, so its streams end at once."""

    def __init__(self, config: uvicorn.Config, pg: Playground) -> None:
        super().__init__(config)
        self.pg = pg

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.pg.stopping.set()
        super().handle_exit(sig, frame)


class PlaygroundServer:
    """The playground served on ``host:port``: ``run()`` blocks until Ctrl-C; ``start()`` / ``stop()`` run
    it in a background thread (for tests and notebooks). ``allow_hosts`` and ``token`` configure its defences
    (``glassnet.playground.security``): off loopback a token is made when none is given; ``login_url`` carries
    it."""

    def __init__(self, pg: Playground, host: str = "127.0.0.1", port: int = 8000,
                 allow_hosts: tuple[str, ...] = (), token: str | None = None,
                 sock: socket.socket | None = None) -> None:
        self.pg = pg
        self.sock = sock if sock is not None else bind(host, port)
        self.host, self.port = host, self.sock.getsockname()[1]
        try:
            self.policy = Policy.for_bind(host, self.port, tuple(allow_hosts), token)
        except ValueError:
            self.sock.close()
            raise
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}/"
        self.login_url = self.url if self.policy.token is None else f"{self.url}?token={self.policy.token}"
        config = uvicorn.Config(create_app(pg, self.policy), log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=3, timeout_keep_alive=5)
        self.server = _Uvicorn(config, pg)
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Serve until interrupted, then stop everything. In the main thread uvicorn catches SIGINT and
        SIGTERM, shuts down gracefully, then raises the signal again (KeyboardInterrupt for Ctrl-C)."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.pg.close()
            self.sock.close()

    def start(self) -> PlaygroundServer:
        self._thread = threading.Thread(target=self.run, name="playground-server", daemon=True)
        self._thread.start()
        for _ in range(200):
            if self.server.started:
                break
            self._thread.join(0.05)
        if not self.server.started:
            raise RuntimeError("the playground server did not start within 10 s")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.pg.stopping.set()
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> PlaygroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def warn_if_exposed(host: str) -> None:
    if not is_loopback(host):
        print(f"glassnet playground: warning: serving on {host} lets anyone who can reach this machine and "
              "has the token use the playground (and run training on it), the token travelling unencrypted "
              "over plain HTTP; the default 127.0.0.1 keeps it to this computer", file=sys.stderr)
