"""What a page is sent of a 2-D playground: the maps over the square, packed as bytes, and the frames of a
stream, each with only what that page has not seen yet.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.playground import data2d
from glassnet.playground.wire import pack_signed, pack_unit

GRID = 50  # output heatmap: GRID x GRID cells over [-6, 6]^2
THUMB_STEP = 2  # unit heatmaps: every second cell, 25 x 25
HISTORY_SHOWN = 1000  # at most this many epochs of the curves in a full frame (evenly thinned)


def _grid() -> np.ndarray:
    """Cell centres, row-major from the top left: row r is x2 = +6 ... -6, column c is x1 = -6 ... +6."""
    step = 2 * data2d.DOMAIN / GRID
    c = -data2d.DOMAIN + step * (np.arange(GRID) + 0.5)
    x1, x2 = np.meshgrid(c, c[::-1])
    return np.stack([x1.ravel(), x2.ravel()], axis=1)


GRID_POINTS = _grid()


def unit_map(values: np.ndarray) -> dict[str, Any]:
    """One unit's (or feature's) heatmap, thinned to the thumbnail grid, packed with its scale m."""
    grid = values.reshape(GRID, GRID)[::THUMB_STEP, ::THUMB_STEP]
    data, m = pack_signed(grid)
    return {"d": data, "m": round(m, 4)}


def output_map(out: np.ndarray, problem: str, k: int) -> dict[str, Any]:
    """The output over the grid: P(class 1) in [0, 1] for two classes, the value in [-1, 1] (as [0, 1])
    for regression, the likeliest class and its probability for several classes."""
    if k > 2:
        return {"kind": "classes", "c": pack_unit(out.argmax(axis=1) / 255.0), "p": pack_unit(out.max(axis=1))}
    v = out[:, 0]
    if problem == "regression":
        return {"kind": "value", "d": pack_unit((np.clip(v, -1, 1) + 1) / 2)}
    return {"kind": "probability", "d": pack_unit(v)}


def history_since(h: dict[str, list], sent: int) -> tuple[dict[str, list], int]:
    """The curves' points after the first ``sent`` epochs (all of them, thinned to HISTORY_SHOWN, when
    ``sent`` is 0), and how many have been sent with them. Epoch e is entry e - 1 of each list."""
    n = min(len(v) for v in h.values())  # the training thread may be appending right now
    if sent == 0 and n > HISTORY_SHOWN:
        idx = np.unique(np.linspace(0, n - 1, HISTORY_SHOWN).astype(int))
        return {key: [h[key][i] for i in idx] for key in h}, n
    return {key: h[key][sent:n] for key in h}, n


def render_for(listener: dict[str, int]) -> Any:
    """A stream's ``render``: the core of each frame, plus the extras and the points of the curves that
    this listener has not seen yet (``listener`` remembers the structure and how many epochs it sent)."""

    def render(core: dict[str, Any]) -> dict[str, Any]:
        frame = {k: v for k, v in core.items() if not k.startswith("_")}
        if core["structure"] != listener.get("structure"):
            frame.update(core["_extras"])
            listener["structure"], listener["sent"] = core["structure"], 0
        frame["history_reset"] = listener["sent"] == 0
        frame["history"], listener["sent"] = history_since(core["_history"], listener["sent"])
        return frame

    return render
