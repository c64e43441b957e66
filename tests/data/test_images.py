"""Digit pictures to MNIST rows: files made from MNIST test images in both polarities and several sizes."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import need

from glassnet.data.images import ImageError, load_digit, preprocess_digit
from glassnet.datasets import mnist

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


# ---------------------------------------------------------------- bad pictures: a clear error, bounded memory
def _png(width: int, height: int, bit_depth: int = 1) -> bytes:
    """A valid grey PNG of zeros, built row by row with zlib: a 20,000 x 20,000 one takes 50 MB of zeros to make
    (in chunks) and about 50 KB on disk."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    comp = zlib.compressobj(9)
    row = bytes(1 + (width * bit_depth + 7) // 8)
    idat = b"".join(comp.compress(row * 1000) for _ in range(height // 1000)) + comp.compress(
        row * (height % 1000)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_with_bounded_memory(tmp_path):
    """20,000 x 20,000 pixels (past Pillow's own limit): refused from the header, in a process that stays small."""
    path = tmp_path / "bomb.png"
    path.write_bytes(_png(20_000, 20_000))
    assert path.stat().st_size < 200_000
    # peak memory of this program: VmHWM (ru_maxrss would include the forking parent's pages)
    code = ("from glassnet.images import load_digit, ImageError\n"
            f"try:\n    load_digit({str(path)!r})\nexcept ImageError as e:\n    print(e)\n"
            "import os, resource\n"
            "if os.path.exists('/proc/self/status'):\n"
            "    print(int([x for x in open('/proc/self/status') if x.startswith('VmHWM')][0].split()[1]) // 1024)\n"
            "else:\n    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)")
    run = __import__("subprocess").run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    message, peak_mb = run.stdout.strip().splitlines()
    assert run.returncode == 0 and "megapixels a digit picture may have (a decompression bomb?)" in message, run.stderr
    assert str(path) in message and int(peak_mb) < 150, (message, peak_mb)


def test_picture_past_our_limit_is_refused_from_its_header(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(_png(8_000, 7_000))  # 56 megapixels: under Pillow's limit, over ours
    with pytest.raises(ImageError, match="refused a picture of 8,000 x 7,000 pixels, more than the 50 megapixels"):
        load_digit(path)


def test_large_picture_is_reduced_before_preprocessing(digits, tmp_path):
    u8, rows = digits
    big = Image.fromarray(255 - u8[0]).resize((2600, 2600), Image.Resampling.BILINEAR)
    big.save(tmp_path / "big.png", compress_level=1)
    assert corr(load_digit(tmp_path / "big.png"), rows[0]) > 0.9


@pytest.mark.parametrize("make, match", [
    (lambda p, d: p.write_bytes(b""), "is empty"),
    (lambda p, d: p.write_bytes(b"GIF89a but not really"), "cannot read"),
    (lambda p, d: p.write_bytes(_png_bytes(d)[:120]), "cannot read"),
    (lambda p, d: p.write_bytes(_jpeg_bytes(d)[:300]), "cannot read"),
    (lambda p, d: p.mkdir(), "is a directory, not a picture"),
], ids=["empty", "not-an-image", "truncated-png", "truncated-jpeg", "a-folder"])
def test_bad_picture_files_fail_in_one_line(digits, tmp_path, make, match):
    path = tmp_path / "digit.png"
    make(path, digits[0][0])
    with pytest.raises(ImageError, match=match) as e:
        load_digit(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def _png_bytes(d) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(d).resize((200, 200)).save(buf, "PNG")
    return buf.getvalue()


def _jpeg_bytes(d) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(d).resize((200, 200)).save(buf, "JPEG")
    return buf.getvalue()


def test_grainy_photograph_of_paper_reads_like_the_clean_digit(digits):
    """Dark ink on light grey paper with grain (noise of std 0.05): the grain is not taken for ink, so the
    crop finds the digit and not the whole picture."""
    from glassnet.nn.augment import gaussian_blur

    _, x = digits
    rng = np.random.default_rng(0)
    scores = []
    for clean in x.reshape(-1, 28, 28):
        photo = np.clip(0.85 - 0.7 * np.pad(clean, 14) + rng.normal(0, 0.05, (56, 56)), 0, 1)
        a, b = (gaussian_blur(preprocess_digit(v).reshape(28, 28), 1.5) for v in (photo, clean))  # 1 px apart: alike
        scores.append(corr(a, b))
    assert np.median(scores) > 0.95  # with the grain taken for ink: about 0.4
