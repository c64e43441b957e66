"""Execute the tutorial notebooks in docs/tutorials in place, each from a clean kernel, so that the outputs
committed with them are what their code gives.

    python tools/run_tutorials.py              # every notebook, two kernels at a time, written back in place
    python tools/run_tutorials.py 04 08        # the notebooks whose names start with 04 or 08
    python tools/run_tutorials.py --check      # execute without writing; exit 1 if a text output differs

PNG pictures are stored with a 256-colour palette (a third of the bytes, no visible change; needs Pillow).
Each kernel runs with one BLAS thread and a fixed hash seed, and every notebook seeds its own randomness, so
running again gives the same numbers. Needs the test extra: pip install -e '.[test]'.
tests/test_tutorials.py executes the notebooks with ``execute`` from this file.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import re
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "docs" / "tutorials"
TIMEOUT_S = 300
"""Longest a cell may run."""

KERNEL_ENV = {
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",  # same sums, kernels side by side
    "PYTHONHASHSEED": "0",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",  # pyplot figures inline, whatever the caller set
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # no debugger chatter on stderr
}


def notebooks(prefixes: Sequence[str] = ()) -> list[Path]:
    """The tutorials in order, or those whose file names start with one of ``prefixes``."""
    found = sorted(TUTORIALS.glob("[0-9][0-9]-*.ipynb"))
    return [p for p in found if not prefixes or p.name.startswith(tuple(prefixes))]


def execute(nb: Any, cwd: Path = TUTORIALS, timeout: int = TIMEOUT_S) -> Any:
    """Run every cell of the notebook ``nb`` (an nbformat node, changed in place) in a fresh kernel of this
    Python; raises nbclient's CellExecutionError at the first cell that fails."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    client = NotebookClient(nb, km=km, timeout=timeout, record_timing=False, store_widget_state=False,
                            resources={"metadata": {"path": str(cwd)}})
    nb.metadata.pop("widgets", None)  # widget models live in the kernel; the progress bar leaves text behind
    client.execute(env={**os.environ, **KERNEL_ENV})
    return nb


_DATA_URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=\s]+)")


def palette_png(b64: str) -> str:
    """A base64 PNG re-encoded with a 256-colour palette, on white where it was transparent."""
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(b64))) as im:
        rgba = im.convert("RGBA")
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    buf = io.BytesIO()
    flat.quantize(256).save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def coalesce_streams(nb: Any) -> None:
    """Join consecutive printed outputs of a cell to the same stream: how the kernel splits them is timing."""
    for cell in nb.cells:
        merged: list[Any] = []
        for out in cell.get("outputs", []):
            if merged and out.output_type == "stream" and merged[-1].output_type == "stream" \
                    and merged[-1].name == out.name:
                merged[-1].text += out.text
            else:
                merged.append(out)
        if cell.cell_type == "code":
            cell.outputs = merged


def shrink_pictures(nb: Any) -> None:
    """Every PNG output of ``nb``, and every PNG inside an HTML output, through ``palette_png``."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data:
                data["image/png"] = palette_png(data["image/png"])
            if "base64," in data.get("text/html", ""):
                data["text/html"] = _DATA_URI.sub(lambda m: "data:image/png;base64," + palette_png(m.group(1)),
                                                  data["text/html"])


def error_line(e: BaseException) -> str:
    """The last line of a cell's traceback (nbclient's CellExecutionError), without terminal colours."""
    lines = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip().splitlines()
    return lines[-1] if lines else type(e).__name__


def text_outputs(nb: Any) -> list[list[str]]:
    """Per code cell, its text outputs (printed text, plain results, errors): what --check compares."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        texts = []
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                texts.append(f"{out.name}: {out.text}")
            elif out.output_type in ("execute_result", "display_data"):
                texts.append(out.get("data", {}).get("text/plain", ""))
            elif out.output_type == "error":
                texts.append(f"{out.ename}: {out.evalue}")
        cells.append(texts)
    return cells


def first_difference(old: Any, new: Any) -> str | None:
    """Where the text outputs of two versions of a notebook first differ, or None."""
    a, b = text_outputs(old), text_outputs(new)
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"code cell {i + 1}: {x!r:.200} became {y!r:.200}"
    return None if len(a) == len(b) else f"{len(a)} code cells became {len(b)}"


def run(path: Path, check: bool) -> tuple[Path, float, str | None]:
    """Execute one notebook; write it back (unless ``check``); return (path, seconds, difference or error)."""
    import nbformat

    old = nbformat.read(path, as_version=4)
    nb = nbformat.reads(nbformat.writes(old), as_version=4)  # a copy, run while ``old`` is kept to compare
    start = time.perf_counter()
    try:
        execute(nb, path.parent)
    except Exception as e:  # the first failing cell, reported as one line
        return path, time.perf_counter() - start, f"ERROR {error_line(e)}"
    seconds = time.perf_counter() - start
    coalesce_streams(nb)
    difference = first_difference(old, nb)
    if not check:
        shrink_pictures(nb)
        nbformat.validate(nb)
        text = nbformat.writes(nb).rstrip("\n") + "\n"
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return path, seconds, difference


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefixes", nargs="*", help="run only the notebooks whose names start so (e.g. 04)")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if a text output changed")
    parser.add_argument("--jobs", type=int, default=2, help="kernels at a time (default 2)")
    args = parser.parse_args(argv)
    paths = notebooks(args.prefixes)
    if not paths:
        print(f"no notebook in {TUTORIALS} matches {args.prefixes}", file=sys.stderr)
        return 1
    start, failed = time.perf_counter(), False
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for path, seconds, note in pool.map(lambda p: run(p, args.check), paths):
            bad = note is not None and (args.check or note.startswith("ERROR"))
            failed |= bad
            status = note if note is not None else "same text outputs" if args.check else "unchanged text outputs"
            print(f"{path.name:<36} {seconds:6.1f} s  {status}")
    print(f"{len(paths)} notebooks in {time.perf_counter() - start:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
