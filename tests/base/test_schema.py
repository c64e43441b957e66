"""Config schemas: the fields, and every registered layer and optimiser declaring a schema that accepts its
own config and refuses what its constructor would choke on, with array shapes known before building."""

from __future__ import annotations

import json

import numpy as np
import pytest

import glassnet as gn
from glassnet._base.schema import (
    Bool,
    Choice,
    Float,
    Int,
    IntPair,
    List,
    Optional,
    Record,
    SchemaError,
    Str,
    check_config,
    class_schema,
)
from glassnet.nn.layers import LAYERS
from glassnet.optim.genetic import GeneticAlgorithm
from glassnet.optim.optimizers import OPTIMIZERS


def example(cls_name: str) -> tuple[list[gn.Layer], tuple[int, ...]]:
    """A small stack holding one layer of the class (the last of the list unless it needs a later target),
    and the input shape. Every registered layer class needs an entry here: a new layer gets its schema and
    array shapes checked by adding one."""
    acts = {"Step": gn.Step(0.5), "Sigmoid": gn.Sigmoid(2.0), "LeakyReLU": gn.LeakyReLU(0.1), "Swish": gn.Swish(2.0),
            "ELU": gn.ELU(0.5), "GELU": gn.GELU("tanh"), "HardSigmoid": gn.HardSigmoid(0.3, 0.4)}
    table = {
        "Dense": ([gn.Dense(None, 3, activation="tanh", init="he", l2=0.1)], (4,)),
        "Maxout": ([gn.Maxout(4, 3, pieces=3)], (4,)),
        "Dropout": ([gn.Dropout(0.3)], (4,)),
        "BatchNorm": ([gn.BatchNorm(None, momentum=0.8, eps=1e-3, activation="relu", l2=0.1)], (2, 3, 3)),
        "Flatten": ([gn.Flatten()], (2, 3)),
        "Reshape": ([gn.Reshape((2, 2))], (4,)),
        "Conv2D": ([gn.Conv2D(None, 2, (3, 2), stride=(1, 2), padding=1, activation="relu")], (2, 5, 6)),
        "MaxPool2D": ([gn.MaxPool2D(2, stride=1)], (1, 4, 4)),
        "AvgPool2D": ([gn.AvgPool2D((2, 1))], (1, 4, 4)),
        "RNN": ([gn.RNN(None, 3, return_sequences=True, activation="relu")], (5, 2)),
        "LSTM": ([gn.LSTM(2, 3)], (5, 2)),
        "GRU": ([gn.GRU(None, 3, return_sequences=True, l2=0.1)], (5, 2)),
        "GaussianNoise": ([gn.GaussianNoise(0.2)], (4,)),
        "MaskingNoise": ([gn.MaskingNoise(0.2)], (4,)),
        "Augment": ([gn.Augment(shift=1, rotate=5, alpha=10, sigma=2)], (1, 6, 6)),
        "DenseTied": ([gn.DenseTied("out", n_out=3, activation="relu"), gn.Dense(3, 4, name="out")], (4,)),
    }
    if cls_name in table:
        return table[cls_name]
    act = acts.get(cls_name) or gn.ACTIVATIONS[LAYERS[cls_name].key]()
    return [act], (4,)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_declares_a_schema_its_config_passes(name):
    layers, shape = example(name)
    model = gn.Sequential(layers, input_shape=shape, seed=0)
    layer = next(layer for layer in model.layers if type(layer).__name__ == name)
    config = json.loads(json.dumps(layer.get_config()))
    fields, required = type(layer).config_fields()
    assert set(config) <= set(fields) and required <= set(config)
    check_config(fields, required, config, name)
    rebuilt = type(layer).from_config(config)
    assert json.loads(json.dumps(rebuilt.get_config())) == config
    for key in sorted(fields):  # every value is checked: a list where a scalar belongs is refused
        if not isinstance(config.get(key), list | dict):
            with pytest.raises(SchemaError, match=key):
                check_config(fields, required, {**config, key: [[1]]}, name)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_array_shapes_are_known_before_building(name):
    layers, shape = example(name)
    unbuilt = gn.Sequential(layers, input_shape=shape, seed=0)  # builds; compare with fresh ones from configs
    fresh = [type(layer).from_config(json.loads(json.dumps(layer.get_config()))) for layer in unbuilt.layers]
    s = shape
    for before, built in zip(fresh, unbuilt.layers, strict=True):
        want = {p.name: p.value.shape for p in built.params} | {k: v.shape for k, v in built.buffers.items()}
        assert before.array_shapes(s) == want, type(built).__name__
        s = built.output_shape


@pytest.mark.parametrize("cls", [*OPTIMIZERS.values(), GeneticAlgorithm])
def test_optimizer_configs_pass_their_schema(cls):
    opt = cls()
    fields, required = cls.config_fields()
    config = json.loads(json.dumps(opt.get_config()))
    check_config(fields, required, config, cls.__name__)
    with pytest.raises(SchemaError, match="unknown key 'bogus'"):
        check_config(fields, required, {**config, "bogus": 1}, cls.__name__)


@pytest.mark.parametrize("field,good,bad", [
    (Int(1), [1, 2**31 - 1], [0, 2**31, True, 1.0, "1", None]),
    (Float(0, 1, high_open=True), [0, 0.5, 0.999], [1, -0.1, float("nan"), float("inf"), True, "0.5", 10**400]),
    (Float(0, low_open=True), [1e-300, 3], [0, -1]),
    (Bool(), [True, False], [0, 1, "true", None]),
    (Str(), ["", "x"], [1, None, ["x"]]),
    (Choice(["a", "b"]), ["a"], ["c", 1, None]),
    (Optional(Int(0)), [None, 0], [-1, "x"]),
    (IntPair(0), [0, [1, 2]], [[1], [1, 2, 3], [1, -1], -1, [1.5, 2]]),
    (List(Int(), 1, 2), [[1], [1, 2]], [[], [1, 2, 3], ["x"], "x"]),
    (Record({"a": Int()}, required=()), [{}, {"a": 1}], [{"b": 1}, {"a": "x"}, [], None]),
])
def test_fields_accept_and_refuse(field, good, bad):
    for value in good:
        assert field.check(value, "v") == value
    for value in bad:
        with pytest.raises(SchemaError) as e:
            field.check(value, "v")
        assert str(e.value).startswith("v") and "\n" not in str(e.value)


def test_schema_comes_from_type_hints_with_declared_ranges():
    class Smooth(gn.Layer):
        config_schema = {"alpha": Float(0, 1)}

        def __init__(self, alpha: float, steps: int = 3, exact: bool = False, tag: str | None = None,
                     name: str | None = None) -> None:
            super().__init__(name)

    fields, required = class_schema(Smooth)
    assert set(fields) == {"alpha", "steps", "exact", "tag", "name"} and required == {"alpha"}
    check_config(fields, required, {"alpha": 0.5, "steps": 2, "exact": True, "tag": None}, "Smooth")
    for bad, match in [({"alpha": 2}, "alpha must be a finite number >= 0 and <= 1"), ({}, "lacks the key 'alpha'"),
                       ({"alpha": 0.1, "steps": "3"}, "steps must be an integer"),
                       ({"alpha": 0.1, "colour": 1}, "unknown key 'colour'")]:
        with pytest.raises(SchemaError, match=match):
            check_config(fields, required, bad, "Smooth")

    class Vague(gn.Layer):
        def __init__(self, spec: int | list[int], name: str | None = None) -> None:
            super().__init__(name)

    with pytest.raises(TypeError, match="declare it in the class's config_schema"):
        class_schema(Vague)


def test_standalone_activation_layers_round_trip(tmp_path):
    m = gn.Sequential([gn.Dense(2, 3), gn.LeakyReLU(0.2), gn.Dense(3, 2), gn.Softmax()], seed=0)
    m.save(tmp_path / "a.npz")
    loaded = gn.load(tmp_path / "a.npz")
    X = np.random.default_rng(0).normal(size=(4, 2))
    np.testing.assert_array_equal(loaded.predict(X), m.predict(X))
    assert loaded.layers[1].alpha == 0.2
