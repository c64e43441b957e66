"""The distortion table's example: thinning, the round pen, and a run on a few digits."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import need

import glassnet as gn

EXAMPLE = Path(__file__).parent.parent / "examples" / "distorted_digits.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("distorted_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bar(thickness=5):
    x = np.zeros((1, 28, 28), np.float32)
    x[0, 12:12 + thickness, 5:23] = 1.0
    return x


def test_thinning_leaves_a_one_pixel_centre_line(example):
    from glassnet.data.strokes import thin

    assert example.thin is thin  # one copy, in the library
    lines = thin(bar() > 0.5)
    rows = np.flatnonzero(lines[0].any(axis=1))
    assert rows.tolist() == [14]  # the middle row of 12..16
    assert lines[0, 14, 8:20].all() and lines.sum() < 18


@pytest.mark.parametrize("width", [1.5, 2.5, 4.5])
def test_round_pen_draws_strokes_of_its_width(example, width):
    line = np.zeros((1, 28, 28), bool)
    line[0, 14, 6:22] = True
    ink = example.round_pen(line, width)[0]
    assert ink.max() == 1.0 and ink.min() == 0.0
    assert ink[:, 14].sum() == pytest.approx(width, abs=0.3)  # across the stroke: its width in pixels
    assert 0 < ink[14, :6].sum() < width / 2  # a round cap past the end


def test_the_table_runs_on_a_few_digits(example, tmp_path, monkeypatch, capsys):
    need("PIL", "image")  # the low-resolution rows resize with Pillow
    model = gn.Sequential([gn.Dense(784, 10, activation="softmax")], input_shape=(784,), seed=0)
    model.save(tmp_path / "m.npz")
    monkeypatch.setattr(sys, "argv", ["distorted_digits.py", str(tmp_path / "m.npz"), "--n", "12", "--markdown"])
    assert example.main() == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 + len(example.distortions(bar(), 0))
    assert any(line.startswith("| redrawn with a round pen 4.5 px wide |") for line in out)
    argv = ["distorted_digits.py", str(tmp_path / "m.npz"), "--n", "12", "--markdown", "--normalise-strokes",
            "--only", "none,much thicker strokes (grey dilation 3x3)"]
    monkeypatch.setattr(sys, "argv", argv)
    assert example.main() == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and out[0].endswith("preprocessed + strokes normalised |")
    assert out[3].startswith("| much thicker strokes (grey dilation 3x3) |") and out[3].count("%") == 3
