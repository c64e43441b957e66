"""How glassnet shows itself in Jupyter: HTML for a model's summary and a history's curves, and the test
for a notebook kernel that the progress bar uses.

Imported only by the ``_repr_html_`` methods and by the progress bar, never by ``import glassnet``; nothing here
imports IPython or ipywidgets (a kernel has already imported IPython; ipywidgets is only looked up).
"""

from __future__ import annotations

import base64
import importlib.util
import sys
from collections.abc import Sequence
from html import escape
from typing import Any

TABLE_ROWS = 12
"""A history of more epochs than this is shown, without matplotlib, as its first and last epochs."""


def in_kernel() -> bool:
    """True inside a Jupyter kernel: IPython is imported and its shell talks to a kernel."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def notebook_tqdm() -> Any:
    """tqdm's notebook-widget bar class inside a kernel where ipywidgets is installed, else None."""
    if not in_kernel() or importlib.util.find_spec("ipywidgets") is None:
        return None
    from tqdm import notebook

    return notebook.tqdm if notebook.IProgress is not None else None


def table_html(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool],
               footer: str = "") -> str:
    """An HTML table (cells escaped), columns aligned right where ``right`` says, with a footer line."""
    def row(cells: Sequence[str], tag: str) -> str:
        return "<tr>" + "".join(f'<{tag} style="text-align:{"right" if r else "left"}">{escape(c)}</{tag}>'
                                for c, r in zip(cells, right, strict=True)) + "</tr>"

    body = "".join(row(r, "td") for r in rows)
    foot = f"<div>{escape(footer)}</div>" if footer else ""
    return f"<div><table><thead>{row(header, 'th')}</thead><tbody>{body}</tbody></table>{foot}</div>"


def summary_html(model: Any) -> str:
    """``model.summary()`` as an HTML table: layer, type, output shape, parameters, then the totals."""
    return table_html(("layer", "type", "output shape", "params"), model.summary_rows(),
                      (False, False, False, True), model.summary_footer())


def history_line(history: Any) -> str:
    """'30 epochs; last: loss 0.0123, accuracy 0.998; best epoch 12' from a History."""
    last = {k: v[-1] for k, v in history.history.items() if v and "/" not in k}
    n = len(history.epoch)
    text = f"{n} epoch{'s' if n != 1 else ''}; last: " + ", ".join(f"{k} {v:.4g}" for k, v in last.items())
    if history.events.get("best_epoch", -1) >= 0:
        text += f"; best epoch {history.events['best_epoch'] + 1}"
    if "stopped_epoch" in history.events:
        text += f" (stopped at epoch {history.events['stopped_epoch'] + 1})"
    return text


def history_html(history: Any) -> str | None:
    """The training curves of a History as an inline PNG (matplotlib), else a table of its epochs; None
    for an empty history (Jupyter then shows the plain repr)."""
    if not history.epoch:
        return None
    line = history_line(history)
    try:
        from glassnet.plot import training_curves

        png = training_curves(history)._repr_png_()
    except (ImportError, ValueError):  # no matplotlib, or nothing it can draw
        keys = [k for k in history.history if "/" not in k]
        epochs = list(range(len(history.epoch)))
        if len(epochs) > TABLE_ROWS:
            epochs = epochs[:TABLE_ROWS // 2] + [-1] + epochs[-(TABLE_ROWS // 2):]
        rows = [["..."] * (len(keys) + 1) if i < 0 else
                [str(history.epoch[i] + 1)] + [f"{history.history[k][i]:.4g}" for k in keys] for i in epochs]
        return table_html(["epoch", *keys], rows, [True] * (len(keys) + 1), line)
    data = base64.b64encode(png).decode("ascii")
    return (f'<div><img alt="training curves: {escape(line)}" src="data:image/png;base64,{data}"/>'
            f"<div>{escape(line)}</div></div>")
