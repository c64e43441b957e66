"""The tutorials in docs/tutorials run: every notebook executes from a clean kernel without an error (as
``python tools/run_tutorials.py`` runs them, two kernels at a time), is committed with its outputs, ends with
exercises and is linked from the README; and in a kernel glassnet shows itself (the model's table, the history's
curves, figures inline, a widget progress bar that leaves its last line).
"""

import importlib.util
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import need

ROOT = Path(__file__).resolve().parents[1]
nbformat = need("nbformat")
need("nbclient")
need("ipykernel")

_spec = importlib.util.spec_from_file_location("run_tutorials", ROOT / "tools" / "run_tutorials.py")
rt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rt)

TUTORIALS = rt.notebooks()
MAX_BYTES = 250_000
"""Committed notebooks stay small enough to read on a code host and to diff."""

PROBE = [  # (source, what its output must show); run in a kernel beside the tutorials
    ("import sys\nimport glassnet as gn\nfrom glassnet.datasets import moons\nX, y = moons(64, seed=0)\n"
     "model = gn.Sequential([gn.Dense(2, 4, 'tanh'), gn.Dense(4, 1, 'sigmoid')], seed=0)\n"
     "model.compile('binary_cross_entropy', gn.Adam(0.05))\nmodel", "summary"),
    ("history = model.fit(X, y, epochs=3, batch_size=16, seed=0)", "progress"),
    ("history", "curves"),
    ("from glassnet import plot\nplot.decision_boundary(model, X, y, resolution=20)", "figure"),
    ("'ipywidgets' in sys.modules, 'matplotlib.pyplot' in sys.modules", "modules"),
]


def probe_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source, _ in PROBE]
    return nb


@pytest.fixture(scope="module")
def runs() -> dict:
    """Each tutorial (read from its file) and the probe, executed two at a time: name -> (notebook or the
    exception its first failing cell raised, seconds)."""
    jobs = {p.name: nbformat.read(p, as_version=4) for p in TUTORIALS}
    jobs["probe"] = probe_notebook()

    def run(item):
        name, nb = item
        start = time.perf_counter()
        try:
            result = rt.execute(nb, rt.TUTORIALS)
        except Exception as e:
            result = e
        return name, (result, time.perf_counter() - start)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(run, jobs.items()))
    print("\n" + "\n".join(f"{name:<36} {seconds:5.1f} s" for name, (_, seconds) in results.items()))
    return results


def test_there_are_nine_tutorials():
    assert [p.name[:3] for p in TUTORIALS] == [f"{i:02d}-" for i in range(1, 10)], TUTORIALS


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(runs, path):
    result, seconds = runs[path.name]
    if isinstance(result, Exception):
        pytest.fail(f"{path.name} failed after {seconds:.1f} s: {rt.error_line(result)}", pytrace=False)
    errors = [o for c in result.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_is_committed_executed_and_ends_with_exercises(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata  # no widget state (random model ids): the file is the same each run
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run it: tools/run_tutorials.py"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    pictures = [o for o in outputs if "image/png" in o.get("data", {}) or "base64," in o.get("data", {}).get(
        "text/html", "")]
    assert len(pictures) >= 3, f"{path.name} shows {len(pictures)} pictures"
    assert path.stat().st_size < MAX_BYTES
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {int(path.name[:2])}. ")
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and "## Exercises" in last.source
    exercises = re.findall(r"^\d\. ", last.source.split("## Exercises")[1], flags=re.M)
    assert 2 <= len(exercises) <= 3, last.source


def test_readme_links_the_tutorials_in_order():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Tutorials", 1)[1].split("\n## ", 1)[0]
    links = re.findall(r"\]\((docs/tutorials/[^)]+\.ipynb)\)", section)
    assert links == [f"docs/tutorials/{p.name}" for p in TUTORIALS]
    assert "python tools/run_tutorials.py" in section
    assert readme.index("## Tutorials") < readme.index("## Gallery")


def _outputs(nb, kind: str) -> list:
    return nb.cells[[k for _, k in PROBE].index(kind)].outputs


def test_glassnet_shows_itself_in_a_kernel(runs):
    need("ipywidgets")
    need("matplotlib")
    nb, _ = runs["probe"]
    if isinstance(nb, Exception):
        pytest.fail(f"the probe notebook failed: {rt.error_line(nb)}", pytrace=False)
    summary = _outputs(nb, "summary")[0].data["text/html"]
    assert "<table>" in summary and "dense_1" in summary and "total parameters: 17" in summary
    progress = _outputs(nb, "progress")
    assert len(progress) == 1 and progress[0].output_type == "display_data"
    # the widget bar was replaced, when training ended, by the last epoch's line
    assert list(progress[0].data) == ["text/plain"]
    assert re.fullmatch(r"epoch 3/3  loss [\d.]+  accuracy [\d.]+  lr 0\.05", progress[0].data["text/plain"])
    curves = _outputs(nb, "curves")[0].data["text/html"]
    assert '<img alt="training curves: 3 epochs' in curves and "data:image/png;base64,iVBOR" in curves
    assert "image/png" in _outputs(nb, "figure")[0].data
    assert _outputs(nb, "modules")[0].data["text/plain"] == "(True, False)"  # widgets used, pyplot never loaded
