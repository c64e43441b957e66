"""The glass box in a browser: ``glassnet playground``.

A local web application served by glassnet itself, with three pages:

- **Digits** (``/``): draw a digit; every layer of every loaded model, as glassnet computed it;
- **Playground** (``/playground``): TensorFlow Playground's 2-D classification and regression, trained by
  glassnet in the server, with more data sets, losses, optimisers and live gradient norms;
- **Train** (``/train``): a ``glassnet train`` preset trained live, probed with a drawing as it learns;
- **Runs** (``/runs``): recorded runs (``--runs DIR``, and the live training's) scrubbed epoch by epoch.

All network maths runs here in Python; the page only draws. Needs the extra ``glassnet[playground]``
(Starlette, uvicorn, Pillow). ``serve`` is the entry point; the command line calls it.
"""

from __future__ import annotations

import signal
import sys
import threading
import webbrowser
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket

    from glassnet.model.sequential import Sequential
    from glassnet.playground.server import PlaygroundServer

__all__ = ["make_server", "serve"]


def make_server(models: Sequence[tuple[str, Sequential, str]], host: str = "127.0.0.1", port: int = 8000,
                data_dir: str | None = None, allow_hosts: Sequence[str] = (),
                token: str | None = None, runs: Sequence[str] = (),
                sock: socket.socket | None = None) -> PlaygroundServer:
    """A playground server (not yet running) for ``models``, given as (name, model, where it came from), and
    the recorded ``runs`` (folders: a run, or a folder of runs). ``allow_hosts``: host names it answers to
    besides this computer's; ``token``: required on every request (default: none on loopback, a new one per run
    on any other address); ``sock``: a socket already listening on (host, port), from ``server.bind``."""
    from glassnet.playground.app import Playground
    from glassnet.playground.digits import DigitData, ModelEntry, Models
    from glassnet.playground.runs import Runs
    from glassnet.playground.server import PlaygroundServer

    registry = Models()
    for name, model, source in models:
        registry.add(ModelEntry(name, model, source))
    return PlaygroundServer(Playground(registry, DigitData(data_dir), Runs.open(list(runs))), host, port,
                            tuple(allow_hosts), token, sock=sock)


def serve(models: Sequence[tuple[str, Sequential, str]], host: str = "127.0.0.1", port: int = 8000,
          open_browser: bool = True, data_dir: str | None = None, allow_hosts: Sequence[str] = (),
          token: str | None = None, runs: Sequence[str] = (), sock: socket.socket | None = None) -> None:
    """Serve the playground until Ctrl-C: prints ``serving on http://HOST:PORT/`` (``port=0``: any free
    port; ``?token=...`` appended when a token is required) and opens the browser unless ``open_browser``
    is False; ``sock``: a socket already bound there, so that a port in use fails before any work."""
    from glassnet.playground.server import warn_if_exposed

    server = make_server(models, host, port, data_dir, allow_hosts, token, runs, sock)
    warn_if_exposed(host)
    print(f"serving on {server.login_url}", flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, [server.login_url]).start()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler) if in_main else None
    try:  # uvicorn stops gracefully on SIGINT or SIGTERM, then raises it again: here, KeyboardInterrupt
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    print("glassnet playground: stopped", file=sys.stderr, flush=True)
