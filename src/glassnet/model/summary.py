"""A model's summary: one row per layer (name, type, output shape, parameter count) and the totals."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from glassnet.model.sequential import Sequential


def rows(model: Sequential) -> list[tuple[str, str, str, str]]:
    """(name, type, output shape, parameter count) of each layer."""
    return [(layer.name, layer.describe(), str((None, *layer.output_shape)), f"{layer.n_params:,}")
            for layer in model.layers]


def footer(model: Sequential) -> str:
    """The totals line under the table."""
    return f"total parameters: {model.count_params():,}  (input {(None, *model.input_shape)}, {model.dtype.name})"


def text(model: Sequential) -> str:
    """The table as aligned plain text."""
    table = [("layer", "type", "output shape", "params"), *rows(model)]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    line = "-" * (sum(widths) + 6)

    def fmt(r: tuple[str, ...]) -> str:
        return f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}"

    return "\n".join([fmt(table[0]), line, *map(fmt, table[1:]), line, footer(model)])
