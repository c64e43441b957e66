"""Fuzzing glassnet.load: every damaged, edited or hostile model file loads and predicts, or raises
ModelFileError; nothing else escapes (no KeyError, TypeError, MemoryError, ...).

Seeded random mutations of three small model files (byte flips, truncation, JSON values, types and keys,
arrays swapped, reshaped, recast, removed or added), then Hypothesis on the JSON config.
"""

from __future__ import annotations

import copy
import io
import json
import os
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import need

import glassnet as gn

hypothesis = need("hypothesis")
st = need("hypothesis.strategies")

N_RANDOM = 4000


def _models() -> list[gn.Sequential]:
    mlp = gn.Sequential([gn.Dense(4, 6, activation="relu", l2=0.01), gn.Dropout(0.2),
                         gn.Dense(6, 5, activation=gn.Sigmoid(slope=0.5)), gn.Maxout(5, 3, pieces=2),
                         gn.Dense(3, 3, activation="softmax")], seed=2)
    mlp.compile(loss="cross_entropy", optimizer=gn.SGD(0.1, momentum=0.5), l1=0.001)
    conv = gn.Sequential([gn.Reshape((1, 6, 6)), gn.Conv2D(1, 2, 3, padding=1, activation="tanh"), gn.MaxPool2D(2),
                          gn.Flatten(), gn.Reshape((3, 6)), gn.LSTM(6, 4), gn.Dense(4, 2, activation="sigmoid")],
                         seed=0, input_shape=(36,))
    conv.compile(loss="binary_cross_entropy", optimizer=gn.Adam(0.01))
    ae = gn.Autoencoder.from_sizes(6, hidden=[4], code=2, tied=True, noise=0.1, seed=1).compile(optimizer="rmsprop")
    return [mlp, conv, ae.model]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = []
    for i, m in enumerate(_models()):
        path = tmp_path_factory.mktemp("fuzz") / f"m{i}.npz"
        m.save(path)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        out.append((path.read_bytes(), arrays))
    return out


@pytest.fixture
def scratch(tmp_path):
    """A folder in memory where the machine has one (thousands of small writes), else tmp_path."""
    if not os.path.isdir("/dev/shm"):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir="/dev/shm") as d:
        yield Path(d)


def _savez(arrays: dict, compressed: bool = False) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def _paths(obj, prefix=()):
    """Every path into a JSON tree (dict keys and list indices)."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def _get(obj, path):
    for p in path:
        obj = obj[p]
    return obj


WEIRD = [None, True, False, 0, -1, 1, 3, 2**31, 2**40, 10**400, 0.5, -1e308, 1e308, float("nan"), float("inf"),
         "", "x", "relu", "Dense", "float16", [], [1], [1, 2], [[1]], {}, {"a": 1}, {"class": "Dense"}]


def _mutate_json(cfg: dict, rng: np.random.Generator) -> dict | str:
    cfg = copy.deepcopy(cfg)
    paths = list(_paths(cfg))[1:]
    path = paths[rng.integers(len(paths))]
    parent, key = _get(cfg, path[:-1]), path[-1]
    kind = rng.integers(8)
    if kind <= 2:
        parent[key] = WEIRD[rng.integers(len(WEIRD))]
    elif kind == 3:
        del parent[key]
    elif kind == 4 and isinstance(parent, dict):
        parent[f"unknown_{rng.integers(3)}"] = 1
    elif kind == 5:
        layers = cfg["layers"]
        i, j = rng.integers(len(layers), size=2)
        layers[i], layers[j] = layers[j], layers[i]
        if rng.random() < 0.5:
            layers.insert(int(i), copy.deepcopy(layers[j]))
    elif kind == 6:
        value = parent[key]
        if isinstance(value, int | float) and not isinstance(value, bool):
            parent[key] = value * [0, -1, 2, 1000, 0.5][rng.integers(5)] + int(rng.integers(-2, 3))
        else:
            parent[key] = json.loads(json.dumps(value)) if rng.random() < 0.5 else [value]
    else:
        cfg = json.dumps(cfg)
        cut = rng.integers(len(cfg))
        return cfg[:cut] + ["}", "[", "\"", "1e999", "[" * 5000, "NaN"][rng.integers(6)] + cfg[cut + 1:]
    return cfg


def _mutate_arrays(arrays: dict, rng: np.random.Generator) -> dict:
    arrays = dict(arrays)
    keys = [k for k in arrays if k != "__config__"]
    k = keys[rng.integers(len(keys))]
    a = arrays[k]
    kind = rng.integers(9)
    if kind == 0:
        other = keys[rng.integers(len(keys))]
        arrays[k], arrays[other] = arrays[other], a
    elif kind == 1:
        arrays[k] = a.T.copy() if a.ndim > 1 and rng.random() < 0.5 else a.reshape(-1)[: max(1, a.size - 1)]
    elif kind == 2:
        arrays[k] = a.astype([np.float64, np.float16, np.int32, np.bool_, np.uint8][rng.integers(5)])
    elif kind == 3:
        del arrays[k]
    elif kind == 4:
        arrays[f"layer{rng.integers(9)}.extra"] = np.zeros(3, a.dtype)
    elif kind == 5:
        b = a.copy()
        b.reshape(-1)[rng.integers(b.size)] = [np.nan, np.inf, -np.inf][rng.integers(3)]
        arrays[k] = b
    elif kind == 6:
        arrays["__config__"] = [np.array([1, 2]), np.array(["a", "b"]), np.array(b"bytes"), np.zeros(())][
            rng.integers(4)]
    elif kind == 7:
        arrays[k] = np.asfortranarray(a.astype(a.dtype)) if a.ndim > 1 else a[::-1].copy()
    else:
        arrays[k] = np.array(str(a.tolist()))
    return arrays


def _mutate(files, rng: np.random.Generator) -> tuple[str, bytes]:
    raw, arrays = files[rng.integers(len(files))]
    kind = rng.integers(5)
    if kind == 0:
        data = bytearray(raw)
        for _ in range(rng.integers(1, 4)):
            data[rng.integers(len(data))] = rng.integers(256)
        return "byte flips", bytes(data)
    if kind == 1:
        return "truncation", raw[: rng.integers(len(raw))]
    if kind == 2:
        cfg = _mutate_json(json.loads(str(arrays["__config__"])), rng)
        text = cfg if isinstance(cfg, str) else json.dumps(cfg)
        return "json", _savez({**arrays, "__config__": np.array(text)}, compressed=rng.random() < 0.2)
    if kind == 3:
        return "arrays", _savez(_mutate_arrays(arrays, rng))
    # a zip whose member names or contents are not .npy arrays
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("__config__.npy", raw[: rng.integers(200)])
        zf.writestr(["layer0.W.npy", "evil.txt", "../x.npy"][rng.integers(3)], b"\x93NUMPY" + bytes(rng.integers(
            0, 256, size=int(rng.integers(0, 80)), dtype=np.uint8)))
    return "zip members", buf.getvalue()


def _check_case(path, what: str, data: bytes) -> bool:
    """True if the file loaded (and predicted), False if it raised ModelFileError; else the test fails."""
    path.write_bytes(data)
    try:
        model = gn.load(path)
    except gn.ModelFileError as e:
        assert "\n" not in str(e), (what, str(e))
        return False
    except Exception as e:  # noqa: BLE001 - the point of the test: nothing else may escape
        pytest.fail(f"{what}: {type(e).__name__} escaped gn.load: {e}")
    X = np.random.default_rng(0).normal(size=(2, *model.input_shape))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.predict(X)
    assert out.shape == (2, *model.output_shape)
    return True


def test_random_mutations_load_or_raise_model_file_error(files, scratch):
    rng = np.random.default_rng(12)
    path = scratch / "fuzzed.npz"
    loaded, start = {}, time.perf_counter()
    for _ in range(N_RANDOM):
        what, data = _mutate(files, rng)
        if _check_case(path, what, data):
            loaded[what] = loaded.get(what, 0) + 1
    print(f"{N_RANDOM} mutated files in {time.perf_counter() - start:.1f} s; still valid: {loaded}")
    assert sum(loaded.values()) < N_RANDOM // 2  # most mutations must be caught, not shrugged off


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children,
                                                                                       max_size=3), max_leaves=8)


@hypothesis.settings(max_examples=400, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(data=st.data())
def test_any_json_value_anywhere_in_the_config(files, scratch, data):
    raw, arrays = files[data.draw(st.integers(0, len(files) - 1), label="file")]
    cfg = json.loads(str(arrays["__config__"]))
    paths = list(_paths(cfg))[1:]
    path = paths[data.draw(st.integers(0, len(paths) - 1), label="path")]
    parent = _get(cfg, path[:-1])
    if data.draw(st.booleans(), label="delete"):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(JSON, label="value")
    _check_case(scratch / "h.npz", f"{path} in file", _savez({**arrays, "__config__": np.array(json.dumps(cfg))}))


def test_the_unmutated_files_load(files, tmp_path):
    for raw, _ in files:
        assert _check_case(tmp_path / "ok.npz", "original", raw)
