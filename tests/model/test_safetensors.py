"""Model files in the safetensors format: round trips, the reference reader and writer, malformed files."""

import json
import struct

import numpy as np
import pytest
from conftest import need

import glassnet as gn
from glassnet.model.file import ModelFileError, model_config

safetensors_numpy = need("safetensors.numpy")


@pytest.fixture
def model():
    m = gn.Sequential([gn.Reshape((1, 6, 6)), gn.Conv2D(1, 2, 3, activation="relu"), gn.Flatten(),
                       gn.Dense(None, 3, "softmax")], seed=0, input_shape=(36,))
    m.compile(loss="cross_entropy", optimizer=gn.Adam(0.01))
    m.meta = {"classes": ["a", "b", "c"]}
    return m


def test_round_trip(tmp_path, model):
    X = np.random.default_rng(0).random((5, 36))
    model.save(tmp_path / "m.safetensors")
    again = gn.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert again.meta == model.meta and again.optimizer.lr == 0.01 and again.loss.key == "cross_entropy"
    assert (tmp_path / "m.safetensors").read_bytes()[:8] != b"PK\x03\x04"  # not a zip (.npz) file


def test_read_by_the_reference_library(tmp_path, model):
    model.save(tmp_path / "m.safetensors")
    tensors = safetensors_numpy.load_file(tmp_path / "m.safetensors")
    assert sorted(tensors) == ["layer1.W", "layer1.b", "layer3.W", "layer3.b"]
    np.testing.assert_array_equal(tensors["layer1.W"], model.layers[1].W.value)
    assert tensors["layer3.W"].dtype == np.float32
    from safetensors import safe_open

    with safe_open(tmp_path / "m.safetensors", framework="np") as f:
        assert json.loads(f.metadata()["glassnet_config"]) == json.loads(json.dumps(model_config(model)))


def test_written_by_the_reference_library(tmp_path, model):
    tensors = {f"layer{i}.{p.name}": p.value for i, layer in enumerate(model.layers) for p in layer.params}
    safetensors_numpy.save_file(tensors, tmp_path / "ref.safetensors",
                                metadata={"glassnet_config": json.dumps(model_config(model))})
    X = np.random.default_rng(1).random((4, 36))
    np.testing.assert_array_equal(gn.load(tmp_path / "ref.safetensors").predict(X), model.predict(X))


def test_arrays_of_other_dtypes_travel_both_ways(tmp_path):
    from glassnet.model import safetensors as _safetensors

    arrays = {"__config__": np.array("{}"), "counts": np.arange(3, dtype=np.int64), "mask": np.array([True, False])}
    _safetensors.write(tmp_path / "a.safetensors", arrays)
    theirs = safetensors_numpy.load_file(tmp_path / "a.safetensors")
    assert theirs["counts"].dtype == np.int64 and theirs["counts"].tolist() == [0, 1, 2]
    ours = _safetensors.read(tmp_path / "a.safetensors")
    assert ours["mask"].tolist() == [True, False] and str(ours["__config__"]) == "{}"


def _file(header, body=b""):
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


F32_2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


@pytest.mark.parametrize("content, message", [
    (b"", "too short"),
    (struct.pack("<Q", 1 << 40) + b"{}", "header size 1099511627776 does not fit"),
    (struct.pack("<Q", 3) + b"{x}", "header is not JSON"),
    (_file([1, 2]), "header is not a JSON object"),
    (_file({"__metadata__": {"glassnet_config": 5}}), "__metadata__ must map names to strings"),
    (_file({"w": {**F32_2, "dtype": "BF16"}}, bytes(8)), "malformed header entry"),
    (_file({"w": {**F32_2, "shape": [-2]}}, bytes(8)), "malformed header entry"),
    (_file({"w": {**F32_2, "data_offsets": [0, 12]}}, bytes(12)), "do not hold shape"),
    (_file({"w": F32_2}, bytes(4)), "do not hold shape"),
    (_file({"w": F32_2, "v": F32_2}, bytes(8)), "do not tile"),
    (_file({"w": F32_2}, bytes(16)), "do not tile"),
    (_file({"w": F32_2}, bytes(8)), "no glassnet config inside"),
])
def test_malformed_files_fail_in_one_line(tmp_path, content, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message) as err:
        gn.load(path)
    assert "\n" not in str(err.value)
