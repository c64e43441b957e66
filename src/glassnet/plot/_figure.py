"""The Figure class of glassnet.plot: matplotlib's, plus the hook that makes Jupyter show it.

IPython shows an object as a picture when it has ``_repr_png_`` (or when a pyplot backend has registered a
formatter for figures, which only happens for the inline backend and only once pyplot is in use). Our figures
live on the Agg canvas outside pyplot, so they bring the hook themselves: the last expression of a cell, or
``display(fig)``, draws the PNG that ``fig.savefig`` would write. Imported only when a picture is drawn.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure as _MplFigure


class Figure(_MplFigure):
    """A matplotlib Figure that Jupyter displays inline (as PNG at the figure's own dpi)."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=self.dpi)
        return buf.getvalue()
