"""Digit pictures to MNIST rows: files made from MNIST test images in both polarities and several sizes."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import need

from glassnet.datasets import mnist
from glassnet.images import ImageError, load_digit, preprocess_digit

Image = need("PIL.Image")

N_DIGITS = 12


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """The first MNIST test images of the embedded sample: uint8 (n, 28, 28) and the float rows (n, 784)."""
    x, _ = mnist.load("test", sample=True)
    x = x[:N_DIGITS]
    return np.round(x * 255).astype(np.uint8).reshape(-1, 28, 28), x


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def white_on_black_28(d):
    return Image.fromarray(d)


def black_on_white_56(d):
    return Image.fromarray(255 - d).resize((56, 56), Image.Resampling.BICUBIC)


def black_on_white_canvas(d):
    """A 200 px digit off-centre on a 320x260 light-grey canvas."""
    canvas = Image.new("L", (320, 260), 235)
    digit = Image.fromarray(255 - d).resize((200, 200), Image.Resampling.BICUBIC)
    canvas.paste(digit.point(lambda v: round(v * 235 / 255)), (100, 20))
    return canvas


def white_on_black_200_rgb(d):
    return Image.fromarray(d).resize((200, 200), Image.Resampling.BILINEAR).convert("RGB")


def black_ink_on_transparent(d):
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[..., 3] = d
    return Image.fromarray(rgba).resize((84, 84), Image.Resampling.BICUBIC)


@pytest.mark.parametrize(
    "make, suffix",
    [
        (white_on_black_28, ".png"),
        (black_on_white_56, ".png"),
        (black_on_white_canvas, ".png"),
        (white_on_black_200_rgb, ".jpg"),
        (black_ink_on_transparent, ".png"),
    ],
)
def test_load_digit_recovers_mnist_image(tmp_path, digits, make, suffix):
    images, rows = digits
    scores = []
    for i, d in enumerate(images):
        path = tmp_path / f"digit{i}{suffix}"
        make(d).save(path)
        out = load_digit(path)
        assert out.shape == (784,) and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
        scores.append(corr(out, rows[i]))
    scores = np.array(scores)
    assert np.mean(scores > 0.8) >= 0.75, scores.round(2)
    assert np.median(scores) > 0.85, scores.round(2)


def test_preprocess_is_near_identity_on_mnist_and_ignores_polarity(digits):
    images, rows = digits
    for d, row in zip(images, rows, strict=True):
        out = preprocess_digit(d)
        assert corr(out, row) > 0.6
        np.testing.assert_allclose(preprocess_digit(255 - d), out, atol=1e-5)
    outs = np.stack([preprocess_digit(d) for d in images])
    assert np.median([corr(o, r) for o, r in zip(outs, rows, strict=True)]) > 0.95


def test_preprocess_centres_mass_and_fits_20px_box():
    img = np.zeros((90, 140), dtype=np.float32)
    img[10:70, 5:25] = 1.0  # a tall bar in the top-left corner
    out = preprocess_digit(img).reshape(28, 28)
    rows, cols = np.flatnonzero(out.max(1) > 0.5), np.flatnonzero(out.max(0) > 0.5)
    assert 19 <= rows[-1] - rows[0] + 1 <= 21 and 6 <= cols[-1] - cols[0] + 1 <= 8
    r = np.arange(28)
    assert abs((out.sum(1) * r).sum() / out.sum() - 14) <= 0.6
    assert abs((out.sum(0) * r).sum() / out.sum() - 14) <= 0.6


def test_faint_noise_is_ignored():
    rng = np.random.default_rng(0)
    img = rng.uniform(0.0, 0.05, size=(60, 60))
    img[20:40, 28:32] = 1.0
    out = preprocess_digit(img).reshape(28, 28)
    assert out[:, :8].max() == 0.0 and out[:, -8:].max() == 0.0


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="no file"):
        load_digit(tmp_path / "nope.png")


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\n")
    with pytest.raises(ImageError, match="cannot read") as info:
        load_digit(path)
    assert "\n" not in str(info.value)


def test_blank_image(tmp_path):
    path = tmp_path / "blank.png"
    Image.new("L", (50, 40), 255).save(path)
    with pytest.raises(ImageError, match="blank"):
        load_digit(path)
    with pytest.raises(ImageError, match="blank"):
        preprocess_digit(np.zeros((28, 28), dtype=np.uint8))


def test_bad_arrays():
    with pytest.raises(ValueError, match="2-D"):
        preprocess_digit(np.zeros(784))
    with pytest.raises(ValueError, match="finite"):
        preprocess_digit(np.full((28, 28), np.nan))


def test_missing_pillow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"glassnet\[image\]"):
        load_digit(tmp_path / "x.png")
