"""Model files: round trip, atomic writes, data only, clear errors."""

import json
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
