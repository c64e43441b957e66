"""The playground's parts that need no server: its data sets, settings and the thread-to-stream channel."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from glassnet.playground import data2d
from glassnet.playground.channel import Channel, event_stream
from glassnet.playground.state import check_state, default_state
from glassnet.playground.wire import ApiError, pack_signed


@pytest.mark.parametrize("dataset", sorted(data2d.CLASSIFICATION))
def test_classification_sets_are_seeded_balanced_and_in_the_square(dataset):
    k = data2d.CLASSIFICATION[dataset][1]
    pts, y = data2d.generate("classification", dataset, 400, 0.1, k, seed=3)
    again, y2 = data2d.generate("classification", dataset, 400, 0.1, k, seed=3)
    assert np.array_equal(pts, again) and np.array_equal(y, y2)
    assert pts.shape == (400, 2) and np.abs(pts).max() <= data2d.DOMAIN
    assert set(np.unique(y)) == set(range(k))
    if dataset in ("gauss", "spiral"):  # the class sizes are equal by construction
        assert np.bincount(y).max() - np.bincount(y).min() <= 1


def test_noise_free_labels_follow_their_rule():
    pts, y = data2d.generate("classification", "xor", 300, 0.0, 2, seed=0)
    assert np.array_equal(y, (pts[:, 0] * pts[:, 1] < 0).astype(int))
    pts, y = data2d.generate("classification", "circle", 300, 0.0, 2, seed=0)
    assert np.array_equal(y, (np.hypot(pts[:, 0], pts[:, 1]) >= 2.5).astype(int))
    pts, y = data2d.generate("regression", "plane", 300, 0.0, 1, seed=0)
    np.testing.assert_allclose(y, np.clip((pts[:, 0] + pts[:, 1]) / 10, -1, 1))


def test_features_and_split():
    pts = np.array([[1.0, 2.0], [-0.5, 3.0]])
    f = data2d.features(pts, ["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"])
    np.testing.assert_allclose(f[0], [1, 2, 1, 4, 2, np.sin(1), np.sin(2)])
    train, test = data2d.split(10, 0.7, seed=1)
    assert len(train) == 7 and len(test) == 3 and not set(train) & set(test)


def test_csv_parsing_accepts_headers_and_playground_labels():
    pts, y = data2d.parse_csv("x1,x2,label\n1,2,-1\n3,4,1\n", "classification")
    assert pts.tolist() == [[1, 2], [3, 4]] and y.tolist() == [0, 1]
    pts, y = data2d.parse_csv("1,2,0.5\n", "regression")
    assert y.tolist() == [0.5]
    with pytest.raises(ApiError, match="regression targets must lie in"):
        data2d.parse_csv("1,2,3\n", "regression")


def test_settings_schema():
    state = check_state({"hidden": [], "features": ["sinx2", "x1"]})
    assert state["hidden"] == [] and state["features"] == ["x1", "sinx2"]  # features in the playground's order
    assert check_state({"problem": "regression"})["loss"] == "mse"
    assert set(default_state()) == set(check_state({}))
    with pytest.raises(ApiError, match="batch_size must be a whole number"):
        check_state({"batch_size": 2.5})
    with pytest.raises(ApiError, match="must be a JSON object"):
        check_state([1])


def test_pack_signed_keeps_zero_in_the_middle():
    data, m = pack_signed(np.array([-2.0, 0.0, 1.0]))
    import base64

    assert m == 2.0 and list(base64.b64decode(data)) == [0, 128, 191]


def test_channel_wakes_listeners_and_skips_to_the_newest():
    channel = Channel()
    stopping = threading.Event()

    listening, published = threading.Event(), threading.Event()

    def publisher():  # publishes five values once the listener waits, then says so
        if listening.wait(10):
            for i in range(5):
                channel.publish(i)
        published.set()

    async def listen():
        got = []
        stream = event_stream(channel, lambda v: {"v": v}, stopping)
        assert await stream.__anext__() == "retry: 1000\n\n"
        threading.Thread(target=publisher, daemon=True).start()
        pending = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)  # one turn of the loop: the stream's first step, which waits on the channel
        listening.set()
        got.append(await asyncio.wait_for(pending, 10))  # woken by the first publish (or a later one)
        assert await asyncio.to_thread(published.wait, 10)  # the publisher is done: no thread timing
        assert await channel.wait(0, timeout=0.01) == (5, 4)
        assert await channel.wait(5, timeout=0.05) is None  # nothing newer: a timeout, not a hang
        stopping.set()
        rest = [chunk async for chunk in stream]
        return got, rest

    out = []  # in a thread of its own: other tests (the browser's) may leave an event loop in this one
    worker = threading.Thread(target=lambda: out.append(asyncio.run(listen())))
    worker.start()
    worker.join(timeout=30)
    got, rest = out[0]
    assert got[0].startswith("data: {\"v\":") and rest in ([], ['data: {"v":4}\n\n'])


def test_connections_to_the_listening_socket_send_without_nagle_delay():
    """asyncio turns Nagle's algorithm off only where the socket names IPPROTO_TCP; with it on, an answer's body
    waited for the acknowledgement of its headers (some 40 ms a request on a kept-alive connection)."""
    import socket

    from conftest import need

    need("uvicorn", "playground")
    from glassnet.playground.server import bind

    async def accept_one() -> int:
        seen: asyncio.Future = asyncio.get_running_loop().create_future()

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        listener = bind("127.0.0.1", 0)
        server = await asyncio.start_server(on_connect, sock=listener)
        async with server:
            _, writer = await asyncio.open_connection(*listener.getsockname())
            nodelay = await asyncio.wait_for(seen, timeout=10)
            writer.close()
        return nodelay

    result: list[int] = []  # a loop of its own, in a thread: the browser tests' Playwright runs one in this one
    worker = threading.Thread(target=lambda: result.append(asyncio.run(accept_one())), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert result and result[0] != 0
