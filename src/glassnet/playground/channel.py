"""A value published by a worker thread and awaited by any number of asyncio listeners.

Training runs in threads; the event streams (server-sent events) run on the server's event loop. A
:class:`Channel` joins them: ``publish`` from any thread bumps a version number and wakes the listeners,
``await wait(since)`` returns as soon as the version passes ``since``. Listeners that fall behind skip to
the newest value instead of queueing frames, so a slow browser never slows training or grows memory.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any


class Channel:
    """The latest value of something that changes, with a version counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.version = 0
        self.value: Any = None

    def publish(self, value: Any) -> None:
        """Make ``value`` the latest and wake every listener (callable from any thread)."""
        with self._lock:
            self.version += 1
            self.value = value
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_wake, future)
            except RuntimeError:  # the loop has closed: its listener is gone
                pass

    async def wait(self, since: int, timeout: float) -> tuple[int, Any] | None:
        """(version, value) once the version exceeds ``since``; None after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.version > since:
                return self.version, self.value
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, future))
        try:
            await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            with self._lock:
                if (loop, future) in self._waiters:
                    self._waiters.remove((loop, future))
            return None
        with self._lock:
            return self.version, self.value


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def event_stream(channel: Channel, render: Callable[[Any], Any], stopping: threading.Event,
                       since: int = 0, keepalive: float = 15.0) -> AsyncIterator[str]:
    """Server-sent events: one ``data:`` line of JSON per new value, ``render(value)`` making the payload
    (None skips the value; a listener's own bookkeeping lives in ``render``'s closure); a comment line
    after ``keepalive`` idle seconds keeps browsers and proxies from closing the stream. Ends when
    ``stopping`` is set (server shutdown)."""
    loop = asyncio.get_running_loop()
    yield "retry: 1000\n\n"
    version, last_sent = since, loop.time()
    while not stopping.is_set():
        got = await channel.wait(version, timeout=0.25)
        if got is None:
            if loop.time() - last_sent > keepalive:
                last_sent = loop.time()
                yield ": keep-alive\n\n"
            continue
        new_version, value = got
        payload = render(value)
        version = new_version
        if payload is not None:
            last_sent = loop.time()
            yield f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"
