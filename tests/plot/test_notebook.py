"""glassnet in Jupyter, without a kernel: the HTML of models and histories, the PNG of figures, the test for a
kernel, and an ``import glassnet`` that loads none of it (test_tutorials.py checks the same in a real kernel)."""

import base64
import io
import subprocess
import sys
import types
from html import escape

import numpy as np
import pytest
from conftest import need

import glassnet as gn
from glassnet.plot import notebook as _notebook
from glassnet.train.callbacks import ProgressBar


def small_model(name: str = "hidden") -> gn.Sequential:
    model = gn.Sequential([gn.Dense(2, 3, "tanh", name=name), gn.Dense(3, 1, "sigmoid")], seed=0)
    return model.compile("binary_cross_entropy", gn.Adam(0.05))


def trained(epochs: int = 4) -> gn.History:
    X, y = gn.datasets.moons(40, seed=0)
    return small_model().fit(X, y, epochs=epochs, batch_size=8, validation_split=0.25, seed=0, verbose=0)


def test_import_glassnet_loads_no_notebook_machinery():
    code = ("import sys, glassnet, glassnet.plot; "
            "print(sorted(m for m in ('IPython', 'ipywidgets', 'tqdm.notebook', 'glassnet.plot.notebook', 'matplotlib')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_model_html_is_the_summary_table():
    model = small_model(name="<b>hidden</b>")
    html = model._repr_html_()
    assert html.count("<tr>") == 1 + len(model.layers)
    assert "&lt;b&gt;hidden&lt;/b&gt;" in html and "<b>" not in html  # names are escaped
    for row in model.summary_rows():
        assert all(f">{escape(cell)}</td>" in html for cell in row)
    assert model.summary_footer() in html and "total parameters: 13" in html
    assert model.summary_text().endswith(model.summary_footer())


def test_history_html_draws_the_curves_as_png():
    need("matplotlib")
    history = trained()
    html = history._repr_html_()
    png = base64.b64decode(html.split("base64,")[1].split('"')[0])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert "4 epochs; last: loss " in html and "val_loss" in html


def test_history_html_without_matplotlib_is_a_table(monkeypatch):
    history = trained(epochs=20)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    monkeypatch.delitem(sys.modules, "matplotlib.ticker", raising=False)
    html = history._repr_html_()
    assert "<img" not in html and "<table>" in html
    rows = html.count("<tr>") - 1
    assert rows == _notebook.TABLE_ROWS + 1  # first and last epochs with "..." between
    assert ">1</td>" in html and ">20</td>" in html and ">...</td>" in html
    assert "<th" in html and ">val_loss</th>" in html


def test_empty_history_falls_back_to_its_repr():
    assert gn.History()._repr_html_() is None


def test_history_line_names_the_best_epoch():
    history = trained()
    history.events.update(best_epoch=1, stopped_epoch=3)
    assert _notebook.history_line(history).endswith("; best epoch 2 (stopped at epoch 4)")


def test_figures_show_themselves_as_png():
    need("matplotlib")
    from glassnet import plot

    fig = plot.activation_functions(["relu"])
    png = fig._repr_png_()
    assert png.startswith(b"\x89PNG")
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:  # the figure's own size at its own dpi
        expected = (fig.get_figwidth() * fig.dpi, fig.get_figheight() * fig.dpi)
        assert all(abs(got - want) <= 1 for got, want in zip(im.size, expected, strict=True))


def test_no_kernel_no_widgets(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert not _notebook.in_kernel() and _notebook.notebook_tqdm() is None
    shell = types.SimpleNamespace(kernel=None)
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert not _notebook.in_kernel()  # a terminal IPython has no kernel
    shell.kernel = object()
    assert _notebook.in_kernel()


def test_progress_lines_outside_a_notebook():
    out = io.StringIO()
    bar = ProgressBar(epochs=2, n_batches=3, verbose=1, file=out)
    assert bar.widget is None and not bar.bars  # a StringIO is no terminal
    bar.on_train_begin({})
    for epoch in range(2):
        bar.on_epoch_begin(epoch, {})
        bar.on_epoch_end(epoch, {"loss": 0.5 / (epoch + 1), "grad_norm/dense_1": 1.0})
    bar.on_train_end({})
    assert out.getvalue() == "epoch 1/2  loss 0.5\nepoch 2/2  loss 0.25\n"
    assert bar.last_line == "epoch 2/2  loss 0.25"


@pytest.mark.parametrize("verbose", [0, 2])
def test_fit_quiet_or_lines_never_asks_for_widgets(verbose, capsys, monkeypatch):
    monkeypatch.setattr(_notebook, "notebook_tqdm", lambda: pytest.fail("looked for widgets"))
    X = np.zeros((4, 2), np.float32)
    small_model().fit(X, np.array([0, 1, 0, 1]), epochs=1, verbose=verbose)
    assert ("epoch 1/1" in capsys.readouterr().err) == (verbose == 2)
