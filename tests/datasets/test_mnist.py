"""MNIST loader: IDX parsing, checksums, look-up order, faked downloads (never the network), the sample."""

from __future__ import annotations

import gzip
import hashlib
import io
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import missing

from glassnet.datasets import mnist
from glassnet.datasets.mnist import DatasetError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "mnist"
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _refuse_network(*args, **kwargs):
    raise AssertionError(f"tests must not use the network: {args}")


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network, no retry delays, an empty private cache and no GLASSNET_DATA_DIR."""
    monkeypatch.setattr(mnist, "_urlopen", _refuse_network)
    monkeypatch.setattr(urllib.request, "urlopen", _refuse_network)
    monkeypatch.setattr(mnist, "_RETRY_DELAY_S", 0.0)
    monkeypatch.setenv("GLASSNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GLASSNET_DATA_DIR", raising=False)


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    header = (0x0800 | arr.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.tobytes()


def fake_split(directory: Path, monkeypatch, split: str = "train", n: int = 6) -> tuple[np.ndarray, ...]:
    """Write a tiny, valid gzip IDX pair under the official names and register its checksums."""
    rng = np.random.default_rng(n)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    directory.mkdir(parents=True, exist_ok=True)
    for name, arr in zip(mnist.FILES[split], (images, labels), strict=True):
        raw = idx_bytes(arr)
        (directory / name).write_bytes(gzip.compress(raw))
        monkeypatch.setitem(mnist.SHA256, name, hashlib.sha256(raw).hexdigest())
    return images, labels


# ---------------------------------------------------------------- IDX parsing


def test_read_idx_parses_gzip_and_raw_files(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = idx_bytes(images)
    (tmp_path / "a.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "a").write_bytes(raw)
    for name in ("a.gz", "a"):
        out = mnist.read_idx(tmp_path / name, hashlib.sha256(raw).hexdigest())
        assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
        np.testing.assert_array_equal(out, images)
        assert not out.flags.writeable
    labels = mnist.read_idx(_write(tmp_path / "l.gz", idx_bytes(np.array([3, 1, 4], dtype=np.uint8))))
    np.testing.assert_array_equal(labels, [3, 1, 4])


def _write(path: Path, raw: bytes, compress: bool = True) -> Path:
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


@pytest.mark.parametrize(
    "raw, message",
    [
        (idx_bytes(np.zeros((5, 28, 28)))[:-100], "truncated"),
        (idx_bytes(np.zeros((5, 28, 28)))[:10], "truncated: expected a 16-byte header"),
        (b"\0\0", "truncated"),
        (idx_bytes(np.zeros(4)) + b"\0", "corrupt"),
        (b"\x12\x34\x56\x78" + idx_bytes(np.zeros(4))[4:], "magic"),
        ((0x0D03).to_bytes(4, "big") + idx_bytes(np.zeros((1, 2, 2)))[4:], "magic"),  # float data
    ],
    ids=["short-payload", "short-header", "no-header", "extra-bytes", "wrong-magic", "not-bytes"],
)
def test_read_idx_rejects_bad_files(tmp_path, raw, message):
    with pytest.raises(DatasetError, match=message) as info:
        mnist.read_idx(_write(tmp_path / "bad.gz", raw))
    assert "\n" not in str(info.value)


def test_read_idx_rejects_truncated_gzip_and_missing_file(tmp_path):
    data = gzip.compress(idx_bytes(np.arange(1000) % 256))
    path = _write(tmp_path / "cut.gz", data[: len(data) // 2], compress=False)
    with pytest.raises(DatasetError, match="truncated or not a valid gzip"):
        mnist.read_idx(path)
    with pytest.raises(DatasetError, match="cannot read"):
        mnist.read_idx(tmp_path / "absent.gz")


def test_read_idx_checks_sha256_of_uncompressed_content(tmp_path):
    raw = idx_bytes(np.arange(10))
    path = _write(tmp_path / "x.gz", raw)
    mnist.read_idx(path, hashlib.sha256(raw).hexdigest().upper())
    with pytest.raises(DatasetError, match="fails its checksum"):
        mnist.read_idx(path, hashlib.sha256(gzip.compress(raw)).hexdigest())


def test_load_never_uses_a_file_failing_the_official_checksum(tmp_path):
    for name, arr in zip(mnist.FILES["test"], (np.zeros((3, 28, 28)), np.zeros(3)), strict=True):
        _write(tmp_path / name, idx_bytes(arr))
    with pytest.raises(DatasetError, match="fails its checksum"):
        mnist.load("test", tmp_path)


def test_load_rejects_image_label_count_mismatch(tmp_path, monkeypatch):
    fake_split(tmp_path, monkeypatch, "test", n=4)
    raw = idx_bytes(np.zeros(5))
    _write(tmp_path / mnist.FILES["test"][1], raw)
    monkeypatch.setitem(mnist.SHA256, mnist.FILES["test"][1], hashlib.sha256(raw).hexdigest())
    with pytest.raises(DatasetError, match="expected 4 labels") as e:
        mnist.load("test", tmp_path)
    assert mnist.FILES["test"][1] in str(e.value) and mnist.FILES["test"][0] in str(e.value)


# ---------------------------------------------------------------- look-up order


def test_lookup_order_data_dir_then_env_then_cache(tmp_path, monkeypatch):
    arg, env, cache = tmp_path / "arg", tmp_path / "env", mnist.cache_dir()
    for d in (arg, env, cache):
        fake_split(d, monkeypatch)
    monkeypatch.setenv("GLASSNET_DATA_DIR", str(env))
    assert mnist.locate("train", arg) == (arg, "data_dir")
    assert mnist.locate("train") == (env, "GLASSNET_DATA_DIR")
    monkeypatch.setenv("GLASSNET_DATA_DIR", str(tmp_path / "empty"))
    assert mnist.locate("train") == (cache, "cache")
    monkeypatch.delenv("GLASSNET_DATA_DIR")
    assert mnist.locate("train") == (cache, "cache")
    assert mnist.locate("test") is None  # only the training files were written


def test_cache_dir_honours_environment(tmp_path, monkeypatch):
    assert mnist.cache_dir() == tmp_path / "cache" / "mnist"
    monkeypatch.delenv("GLASSNET_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist.cache_dir() == tmp_path / "xdg" / "glassnet" / "mnist"


def test_load_reports_source_and_accepts_mnist_subfolder(tmp_path, monkeypatch):
    images, labels = fake_split(tmp_path / "data" / "mnist", monkeypatch, "test")
    x, y, source = mnist.load("test", tmp_path / "data", return_source=True)
    assert x.shape == (6, 784) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(x * 255, images.reshape(6, 784), atol=1e-3)
    np.testing.assert_array_equal(y, labels)
    assert "data_dir" in source and str(tmp_path / "data" / "mnist") in source


def test_explicit_data_dir_without_files_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="lacks the MNIST files"):
        mnist.load("train", tmp_path)


def test_nothing_found_without_download_falls_back_to_sample(capsys):
    x, y, source = mnist.load("test", download=False, return_source=True)
    assert x.shape == (1000, 784) and y.shape == (1000,)
    assert "sample" in source
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "embedded MNIST sample" in err and "--data-dir DIR" in err


def test_failed_download_falls_back_to_sample(monkeypatch, capsys):
    def offline(url, timeout):
        raise OSError("network unreachable")

    monkeypatch.setattr(mnist, "_urlopen", offline)
    x, _ = mnist.load("test", verbose=False)
    assert x.shape == (1000, 784)
    err = capsys.readouterr().err
    assert "download failed" in err and err.count("\n") == 1
    assert not mnist.cache_dir().exists()  # nothing half-written is left behind, not even the empty folder


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def test_download_verifies_and_moves_into_cache(tmp_path, monkeypatch):
    images, labels = fake_split(tmp_path / "server", monkeypatch, "test", n=3)
    served = []

    def serve(url, timeout):
        name = url.rsplit("/", 1)[1]
        served.append(url)
        if len(served) == 1:
            return FakeResponse(b"not gzip at all")  # first mirror serves junk: rejected, next one tried
        return FakeResponse((tmp_path / "server" / name).read_bytes())

    monkeypatch.setattr(mnist, "_urlopen", serve)
    x, y, source = mnist.load("test", verbose=False, return_source=True)
    assert "downloaded" in source
    np.testing.assert_array_equal(y, labels)
    assert sorted(p.name for p in mnist.cache_dir().iterdir()) == sorted(mnist.FILES["test"])
    assert served[0].startswith(mnist.MIRRORS[0]) and served[1].startswith(mnist.MIRRORS[1])
    assert mnist.locate("test") == (mnist.cache_dir(), "cache")


def test_download_with_bad_checksum_leaves_nothing(monkeypatch):
    junk = gzip.compress(idx_bytes(np.zeros(3)))  # a valid IDX file, but not the official one
    monkeypatch.setattr(mnist, "_urlopen", lambda url, timeout: FakeResponse(junk))
    with pytest.raises(DatasetError, match="checksum"):
        mnist.download("test", verbose=False)
    assert not mnist.cache_dir().exists()


def test_unknown_split():
    with pytest.raises(ValueError, match="unknown MNIST split 'validation'"):
        mnist.load("validation")


# ---------------------------------------------------------------- the data themselves


def test_sample_shapes_and_size():
    assert mnist.SAMPLE_PATH.stat().st_size < 2_000_000
    with np.load(mnist.SAMPLE_PATH, allow_pickle=False) as z:
        assert z["train_images"].dtype == np.uint8
    for split, n in (("train", 5000), ("test", 1000)):
        x, y = mnist.load(split, sample=True)
        assert x.shape == (n, 784) and x.dtype == np.float32 and y.shape == (n,) and y.dtype == np.int64
        assert x.min() == 0.0 and x.max() == 1.0 and set(np.unique(y)) == set(range(10))


def test_loaded_arrays_are_copies():
    x, y = mnist.load("test", sample=True)
    x[:] = 7
    y[:] = 7
    x2, y2 = mnist.load("test", sample=True)
    assert x2.max() == 1.0 and not (y2 == 7).all()


@pytest.fixture
def shared_dir(monkeypatch):
    if not (SHARED / mnist.FILES["train"][0]).is_file():
        print(f"full MNIST not found at {SHARED}")
        missing(f"full MNIST not found at {SHARED}")
    monkeypatch.setenv("GLASSNET_DATA_DIR", str(SHARED))
    return SHARED


def test_full_set(shared_dir):
    for split, counts in (("train", TRAIN_COUNTS), ("test", TEST_COUNTS)):
        x, y, source = mnist.load(split, download=False, return_source=True)
        n = sum(counts)
        assert "GLASSNET_DATA_DIR" in source
        assert x.shape == (n, 784) and x.dtype == np.float32 and y.shape == (n,) and y.dtype == np.int64
        assert x.min() == 0.0 and x.max() == 1.0
        assert np.bincount(y, minlength=10).tolist() == counts
        xs, ys = mnist.load(split, sample=True)
        np.testing.assert_array_equal(xs, x[: len(xs)])  # the sample is the head of the full set
        np.testing.assert_array_equal(ys, y[: len(ys)])


# ---------------------------------------------------------------- bad files: one line naming the file and the fault
def test_gzip_bomb_is_refused_without_decompressing_it(tmp_path):
    header = (0x0803).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (100_000, 28, 28))
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header)
        for _ in range(16):  # 16 MiB of zeros, 16 KiB compressed; the header announces 78 MB
            f.write(bytes(1 << 20))
    with pytest.raises(DatasetError, match=r"bomb.gz is corrupt: header shape \(100000, 28, 28\) announces") as e:
        mnist.read_idx(path)
    assert "\n" not in str(e.value)


def test_gzip_file_with_more_data_than_its_header_says(tmp_path):
    raw = idx_bytes(np.zeros(4)) + b"\0\0"
    with pytest.raises(DatasetError, match=r"x.gz is corrupt: header shape \(4,\) needs 4 data bytes, found more"):
        mnist.read_idx(_write(tmp_path / "x.gz", raw))


@pytest.mark.parametrize("labels,images,match", [
    (np.array([1, 2, 12]), np.zeros((3, 28, 28)), "label 12 outside the classes 0..9"),
    (np.zeros((3, 2)), np.zeros((3, 28, 28)), "expected magic 2049 .1-D., got a 2-D IDX array"),
    (np.zeros(3), np.zeros((3, 27, 27)), r"expected images of shape \(n, 28, 28\), got \(3, 27, 27\)"),
])
def test_bad_label_or_image_files_are_named(tmp_path, monkeypatch, labels, images, match):
    for name, arr in zip(mnist.FILES["test"], (images, labels), strict=True):
        raw = idx_bytes(arr)
        _write(tmp_path / name, raw)
        monkeypatch.setitem(mnist.SHA256, name, hashlib.sha256(raw).hexdigest())
    with pytest.raises(DatasetError, match=match) as e:
        mnist.load("test", tmp_path)
    bad = mnist.FILES["test"][0 if "images" in match else 1]
    assert bad in str(e.value) and "\n" not in str(e.value)
