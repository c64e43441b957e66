"""Model files: round trip, atomic writes, data only, clear errors."""

import errno
import json
import os
import tempfile
import zipfile

import numpy as np
import pytest

import glassnet as gn


@pytest.fixture
def model():
    m = gn.Sequential([gn.Dense(4, 6, activation="relu", l2=0.01), gn.Dropout(0.2),
                       gn.Dense(6, 5, activation=gn.Sigmoid(slope=0.5)), gn.Maxout(5, 3, pieces=2),
                       gn.Dense(3, 3, activation="softmax")], seed=2)
    m.compile(loss="cross_entropy", optimizer=gn.SGD(0.1, momentum=0.5), l1=0.001)
    X = np.random.default_rng(0).normal(size=(30, 4))
    m.fit(X, np.arange(30) % 3, epochs=2, verbose=0)
    return m


def test_save_load_gives_identical_predictions(model, tmp_path):
    X = np.random.default_rng(1).normal(size=(9, 4)).astype(np.float32)
    path = tmp_path / "m.npz"
    model.meta["classes"] = ["a", "b", "c"]
    model.save(path)
    loaded = gn.load(path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.summary_text() == model.summary_text()
    assert loaded.loss.key == "cross_entropy" and loaded.l1 == 0.001 and loaded.layers[0].l2 == 0.01
    assert loaded.layers[2].activation.slope == 0.5 and loaded.meta == {"classes": ["a", "b", "c"]}
    assert isinstance(loaded.optimizer, gn.SGD) and loaded.optimizer.momentum == 0.5


def test_file_is_data_only_with_a_versioned_config(model, tmp_path):
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as npz:
        cfg = json.loads(str(npz["__config__"]))
        assert "layer0.W" in npz.files
    assert cfg["format"] == "glassnet.Sequential" and cfg["version"] == 1
    assert [layer["class"] for layer in cfg["layers"]] == ["Dense", "Dropout", "Dense", "Maxout", "Dense"]
    assert not [f for f in tmp_path.iterdir() if f.name != "m.npz"], "temporary file left behind"


def test_float64_model_round_trip(tmp_path):
    m = gn.Sequential([gn.Dense(2, 2, activation="tanh")], dtype=np.float64, seed=0)
    m.save(tmp_path / "m64.npz")
    loaded = gn.load(tmp_path / "m64.npz")
    assert loaded.dtype == np.float64 and loaded.loss is None
    np.testing.assert_array_equal(loaded.layers[0].W.value, m.layers[0].W.value)


def test_failed_write_keeps_the_old_file(model, tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    model.save(path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before and [f.name for f in tmp_path.iterdir()] == ["m.npz"]


def rewrite_config(src, dst, change):
    with np.load(src, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    cfg = json.loads(str(arrays["__config__"]))
    change(cfg)
    arrays["__config__"] = np.array(json.dumps(cfg))
    np.savez(dst, **arrays)


def test_newer_format_version_is_refused(model, tmp_path):
    model.save(tmp_path / "m.npz")
    rewrite_config(tmp_path / "m.npz", tmp_path / "new.npz", lambda c: c.update(version=99))
    with pytest.raises(gn.ModelFileError, match="format version 99 by a newer glassnet") as e:
        gn.load(tmp_path / "new.npz")
    assert "\n" not in str(e.value)


def test_unknown_layer_is_refused(model, tmp_path):
    model.save(tmp_path / "m.npz")
    rewrite_config(tmp_path / "m.npz", tmp_path / "x.npz", lambda c: c["layers"][0].update({"class": "Evil"}))
    with pytest.raises(gn.ModelFileError, match="unknown layer type 'Evil'; known: .*Dense"):
        gn.load(tmp_path / "x.npz")


@pytest.mark.parametrize("content,match", [
    (b"", "not a readable glassnet model file"),
    (b"PK\x03\x04 truncated zip", "not a readable glassnet model file"),
    (b"hello, I am text", "not a readable glassnet model file"),
])
def test_corrupt_files_fail_in_one_line(tmp_path, content, match):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(gn.ModelFileError, match=match) as e:
        gn.load(path)
    assert "\n" not in str(e.value)


def test_truncated_model_file(model, tmp_path):
    model.save(tmp_path / "m.npz")
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(gn.ModelFileError):
        gn.load(tmp_path / "cut.npz")


def test_pickled_arrays_are_never_loaded(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, __config__=np.array([{"format": "x"}], dtype=object))
    with pytest.raises(gn.ModelFileError, match="not a readable"):
        gn.load(path)


def test_npz_without_config_and_missing_file(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(gn.ModelFileError, match="no glassnet config"):
        gn.load(tmp_path / "plain.npz")
    with pytest.raises(gn.ModelFileError, match="no such model file"):
        gn.load(tmp_path / "absent.npz")
    assert zipfile.is_zipfile(tmp_path / "plain.npz")


# ---------------------------------------------------------------- saving: a full disk, a read-only folder
class _FullDisk:
    """A file object that accepts ``room`` bytes, then fails as a full disk does (ENOSPC)."""

    def __init__(self, f, room):
        self.f, self.room = f, room

    def write(self, data):
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


@pytest.mark.parametrize("room", [0, 100, 2000])
def test_full_disk_keeps_the_old_file_and_names_the_path(model, tmp_path, monkeypatch, room):
    path = tmp_path / "m.npz"
    model.save(path)
    before = path.read_bytes()
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, mode="r", *a, **k: _FullDisk(real_fdopen(fd, mode, *a, **k), room))
    with pytest.raises(OSError) as e:
        model.save(path)
    assert e.value.errno == errno.ENOSPC and str(path) in str(e.value) and "\n" not in str(e.value)
    assert path.read_bytes() == before and [f.name for f in tmp_path.iterdir()] == ["m.npz"]


def test_read_only_folder_names_the_path(model, tmp_path, monkeypatch):
    """As root a chmod does not stop writes, so the refusal is simulated where the OS would give it."""
    path = tmp_path / "ro" / "m.npz"
    path.parent.mkdir()

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "ro" / ".m.npz.x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError, match=f"cannot write {path}: Permission denied"):
        model.save(path)
    assert not list(path.parent.iterdir())


def test_failed_fsync_removes_the_temporary_file(model, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(OSError, match="cannot write .*m.npz: I/O error"):
        model.save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- loading: config and arrays, before building
def rewrite_arrays(src, dst, change):
    with np.load(src, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    np.savez(dst, **arrays)


def _config(change):
    """An arrays-change that applies ``change`` to the JSON config."""
    def apply(arrays):
        cfg = json.loads(str(arrays["__config__"]))
        change(cfg)
        arrays["__config__"] = np.array(json.dumps(cfg))
    return apply


@pytest.mark.parametrize("change,match", [
    (lambda a: a.update({"layer0.W": a["layer0.W"].astype(np.float64)}), "layer0.W must be float32 of shape"),
    (lambda a: a.update({"layer0.W": a["layer0.W"].T}), r"layer0.W must be float32 of shape \(4, 6\)"),
    (lambda a: a.pop("layer2.b"), "array layer2.b is missing"),
    (lambda a: a.update({"layer9.W": np.zeros(2, np.float32)}), "unexpected array layer9.W"),
    (lambda a: a["layer0.W"].__setitem__((0, 0), np.nan), "layer0.W holds NaN or infinite values"),
    (lambda a: a.update({"__config__": np.array([1, 2])}), "the config must be one string"),
    (_config(lambda c: c["layers"][0]["config"].update(n_out="6")),
     r"layers\[0\] \(Dense\).n_out must be an integer >= 1"),
    (_config(lambda c: c["layers"][1]["config"].update(p=1.5)), r"layers\[1\] \(Dropout\).p must be a finite number"),
    (_config(lambda c: c["layers"][0]["config"].pop("n_out")), "lacks the key 'n_out'"),
    (_config(lambda c: c["layers"][0]["config"].update(colour=1)), "unknown key 'colour'"),
    (_config(lambda c: c.update(dtype="float16")), "dtype must be one of float32, float64"),
    (_config(lambda c: c.update(input_shape=[4, 0])), r"input_shape\[1\] must be an integer >= 1"),
    (_config(lambda c: c["compile"].update(loss="hinge")), "unknown loss 'hinge'"),
    (_config(lambda c: c["compile"]["optimizer"]["config"].update(momentum=-1)), "momentum must be a finite number"),
    (_config(lambda c: c.update(version=True)), "version must be an integer"),
    (_config(lambda c: c.update(layers=[])), "layers must be a list of at least 1 items"),
    (_config(lambda c: c["layers"][0]["config"].update(activation="relux")), "unknown activation 'relux'"),
    (_config(lambda c: c["layers"][0]["config"].update(n_in=5)), r"layer0.W must be float32 of shape \(5, 6\)"),
])
def test_config_and_arrays_are_checked_before_building(model, tmp_path, change, match):
    model.save(tmp_path / "m.npz")
    rewrite_arrays(tmp_path / "m.npz", tmp_path / "x.npz", change)
    with pytest.raises(gn.ModelFileError, match=match) as e:
        gn.load(tmp_path / "x.npz")
    assert "\n" not in str(e.value)


def test_huge_sizes_are_refused_without_allocating(tmp_path):
    m = gn.Sequential([gn.Reshape((1, 4, 4)), gn.Conv2D(1, 2, 3, padding=1), gn.Flatten()], input_shape=(16,))
    m.save(tmp_path / "c.npz")
    rewrite_config(tmp_path / "c.npz", tmp_path / "pad.npz", lambda c: c["layers"][1]["config"].update(padding=10**6))
    with pytest.raises(gn.ModelFileError, match="values per sample"):
        gn.load(tmp_path / "pad.npz")
    rewrite_config(tmp_path / "c.npz", tmp_path / "big.npz", lambda c: c["layers"][1]["config"].update(
        out_channels=2**30))
    with pytest.raises(gn.ModelFileError, match="layer1.W must be float32 of shape"):
        gn.load(tmp_path / "big.npz")


def test_zip_bomb_is_refused_from_its_declared_sizes(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("layer0.W.npy", "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            for _ in range(200):
                f.write(chunk)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(gn.ModelFileError, match="compressed members claim"):
        gn.load(path)
