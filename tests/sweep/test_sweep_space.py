"""Search spaces, trial seeds, successive halving, the trial log and the report: no training involved."""

import json
import math

import numpy as np
import pytest

from glassnet.commands.sweep import sweepable
from glassnet.sweep import Halving, Space, choice, loguniform, trial_seed, uniform
from glassnet.sweep.halving import promote
from glassnet.sweep.log import TrialLog, read_records
from glassnet.sweep.report import summarise, table
from glassnet.sweep.space import Choice, LogUniform, Uniform, parse_grid, parse_random

OPTIONS = sweepable()


def test_every_train_option_is_sweepable_and_read_by_its_own_type():
    assert {"lr", "momentum", "decay", "hidden", "activation", "loss", "optimizer", "batch_size", "l1", "l2",
            "dropout", "init", "epochs", "early_stopping", "validation"} <= set(OPTIONS)
    assert parse_grid("lr=0.01,0.1", OPTIONS) == ("lr", [0.01, 0.1])
    assert parse_grid("batch-size=32,128", OPTIONS) == ("batch_size", [32, 128])
    assert parse_grid("hidden=128,512-256,[64,32]", OPTIONS) == ("hidden", [[128], [512, 256], [64, 32]])
    assert parse_grid("activation=relu,tanh", OPTIONS) == ("activation", ["relu", "tanh"])
    assert parse_grid("x=1,[2,3],abc") == ("x", [1, [2, 3], "abc"])  # without options: Python literals


@pytest.mark.parametrize("text,message", [
    ("lr", "--grid expects KEY=V1,V2,..., got 'lr'"),
    ("lr=", "--grid lr= has no values"),
    ("lr=0.1,,0.2", "--grid lr: empty value"),
    ("lr=abc", "--grid lr: expected a number, got 'abc'"),
    ("epochs=2.5", "--grid epochs: expected a whole number, got '2.5'"),
    ("hidden=12-x", "--grid hidden: must be comma-separated layer sizes"),
    ("learning_rate=0.1",
     "--grid: unknown option 'learning_rate'; sweepable: activation, augment, batch_norm, batch_size"),
])
def test_bad_grid_values_fail_in_one_line(text, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace("[", r"\[")):
        parse_grid(text, OPTIONS)


def test_random_distributions():
    assert parse_random("lr=loguniform(1e-4,1e-1)", OPTIONS) == ("lr", LogUniform(1e-4, 1e-1))
    assert parse_random("momentum=uniform(0.5, 0.99)", OPTIONS) == ("momentum", Uniform(0.5, 0.99))
    assert parse_random("epochs=uniform(2,4)", OPTIONS) == ("epochs", Uniform(2, 4, integer=True))
    assert parse_random("activation=choice(relu,tanh)", OPTIONS) == ("activation", Choice(("relu", "tanh")))
    rng = np.random.default_rng(0)
    lr = np.array([loguniform(1e-4, 1e-1).sample(rng) for _ in range(4000)])
    assert lr.min() >= 1e-4 and lr.max() <= 1e-1
    # log-uniform: each of the three decades holds about a third of the draws
    counts = np.histogram(np.log10(lr), bins=[-4, -3, -2, -1])[0]
    assert np.all(np.abs(counts / lr.size - 1 / 3) < 0.03), counts
    ints = {uniform(2, 4, integer=True).sample(rng) for _ in range(200)}
    assert ints == {2, 3, 4}
    for text, message in [("activation=uniform(0,1)", "activation: uniform needs a numeric option"),
                          ("lr=loguniform(0,1)", "loguniform needs 0 < low < high"),
                          ("lr=uniform(1,0)", "low < high"), ("lr=normal(0,1)", "expected uniform(A,B)"),
                          ("lr=uniform(1)", "takes two bounds"), ("lr=choice()", "choice() has no values"),
                          ("lr=choice(0.1,x)", "--random lr: expected a number, got 'x'")]:
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse_random(text, OPTIONS)


def test_grid_random_and_their_trials():
    space = Space.build({"lr": [0.1, 0.01], "hidden": [[8], [16]]}, None, None)
    configs, dropped = space.configurations(0)
    assert configs == [{"lr": 0.1, "hidden": [8]}, {"lr": 0.1, "hidden": [16]},
                       {"lr": 0.01, "hidden": [8]}, {"lr": 0.01, "hidden": [16]}] and dropped == 0
    trials = space.trials_for(configs, 3, 0)
    assert [t.index for t in trials] == list(range(12)) and [t.config for t in trials[:4]] == [0, 0, 0, 1]
    assert len({t.seed for t in trials}) == 12
    mixed = Space.build({"hidden": [8, 16]}, {"lr": "loguniform(1e-3,1e-1)"}, 3)
    a, b, other = mixed.configurations(0)[0], mixed.configurations(0)[0], mixed.configurations(1)[0]
    assert len(a) == 6 and a == b and a != other  # 3 draws per grid point, reproducible per base seed
    assert [c["hidden"] for c in a] == [8, 8, 8, 16, 16, 16]
    few = Space.build(None, {"act": choice("relu", "tanh")}, 10).configurations(0)
    assert sorted(c["act"] for c in few[0]) == ["relu", "tanh"] and few[1] == 8  # repeated draws dropped
    for grid, random, trials, message in [({"lr": []}, None, None, "grid\\['lr'\\] is empty"),
                                          ({"lr": [1]}, {"lr": uniform(0, 1)}, None, "both in the grid and random"),
                                          ({"lr": [1]}, None, 3, "trials counts random draws"),
                                          ({"f": [object()]}, None, None, "must be a finite number, a string")]:
        with pytest.raises(ValueError, match=message):
            Space.build(grid, random, trials)


def test_trial_seed_depends_on_configuration_and_seed_number_only():
    seed = trial_seed({"lr": 0.1, "hidden": [8]}, 1, 0)
    assert seed == trial_seed({"hidden": [8], "lr": 0.1}, 1, 0)  # key order does not matter
    assert len({seed, trial_seed({"lr": 0.1, "hidden": [8]}, 0, 0), trial_seed({"lr": 0.1, "hidden": [8]}, 1, 1),
                trial_seed({"lr": 0.2, "hidden": [8]}, 1, 0)}) == 4
    # adding a grid value changes no other trial's seed
    small = Space.build({"lr": [0.1, 0.2]}, None, None)
    large = Space.build({"lr": [0.05, 0.1, 0.2]}, None, None)
    seeds_small = {json.dumps(t.params): t.seed for t in small.trials_for(small.configurations()[0], 2)}
    seeds_large = {json.dumps(t.params): t.seed for t in large.trials_for(large.configurations()[0], 2)
                   if t.seed_index < 2}
    assert all(seeds_large[k] == v for k, v in seeds_small.items())


def test_successive_halving_rungs_and_promotion():
    h = Halving(eta=3)
    assert h.rungs(9, 9) == [1, 3, 9] and h.rungs(9, 27) == [1, 3, 9]
    assert h.rungs(9, 3) == [3, 9]          # few configurations: fewer rungs
    assert h.rungs(8, 16) == [2, 8] and h.rungs(1, 9) == [1] and Halving(2, 2).rungs(8, 8) == [2, 4, 8]
    assert [h.keep(n) for n in (9, 4, 2, 1)] == [3, 1, 1, 1]
    assert promote({0: 0.5, 1: 0.9, 2: math.nan, 3: 0.9, 4: 0.1}, 2) == [1, 3]  # ties: lower number first
    assert promote({0: math.nan, 1: 0.2}, 2) == [0, 1] and promote({5: 0.1, 2: 0.1}, 1) == [2]
    with pytest.raises(ValueError, match="eta must be a whole number >= 2"):
        Halving(eta=1)


def _record(trial, config, value, status="ok", rung=0, **params):
    r = {"trial": trial, "config": config, "seed_index": trial % 2, "seed": trial, "rung": rung, "params": params,
         "status": status, "seconds": 1.0, "epochs": 3}
    if status == "ok":
        r.update(val_accuracy=value, test_accuracy=value - 0.01)
    else:
        r["error"] = "ValueError: boom"
    return r


def test_report_mean_and_spread_per_configuration():
    records = [_record(0, 0, 0.90, lr=0.1), _record(1, 0, 0.94, lr=0.1),
               _record(2, 1, 0.80, lr=0.01), _record(3, 1, 0.0, "failed", lr=0.01)]
    rows = summarise(records, "val_accuracy")
    assert rows[0]["metric"] == pytest.approx((0.92, np.std([0.90, 0.94], ddof=1)))
    assert rows[0]["seeds"] == (2, 2) and rows[1]["seeds"] == (1, 2) and rows[1]["status"] == "failed 1/2"
    assert math.isnan(rows[1]["metric"][1])  # one finished seed: no spread
    text = table(rows, ["lr"], "val_accuracy")
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["#", "lr", "seeds"] and "0.9200 +- 0.0283" in lines[2]
    assert lines[2].startswith("0") and lines[3].startswith("1") and "#1: ValueError: boom" in text
    assert table(rows, ["lr"], "val_accuracy", sort="lr").splitlines()[2].startswith("1")
    assert len(table(rows, ["lr"], "val_accuracy", top=1).splitlines()) == 3  # header, rule, one row
    with pytest.raises(ValueError, match="cannot sort by 'speed'"):
        table(rows, ["lr"], "val_accuracy", sort="speed")
    # under halving, a configuration that did not reach the last rung is "stopped"
    halved = summarise([_record(0, 0, 0.9, lr=1), _record(0, 0, 0.95, rung=1, lr=1), _record(1, 1, 0.5, lr=2)],
                       "val_accuracy")
    assert [r["status"] for r in halved] == ["ok", "stopped"] and halved[0]["metric"][0] == 0.95


def test_log_resumes_drops_a_cut_line_and_refuses_another_sweep(tmp_path):
    spec = {"space": {"grid": {"lr": [0.1]}, "random": {}, "trials": None}, "seeds": 1}
    log = TrialLog(tmp_path, spec)
    log.append(_record(0, 0, 0.9, lr=0.1))
    log.append(_record(1, 0, 0.8, lr=0.1))
    with pytest.raises(ValueError, match="in use by another running sweep"):
        TrialLog(tmp_path, spec, resume=True)
    log.close()
    with open(tmp_path / "trials.jsonl", "ab") as f:
        f.write(b'{"trial": 2, "sta')  # the process died while writing
    with pytest.raises(ValueError, match="already holds a sweep; --resume continues it"):
        TrialLog(tmp_path, spec)
    with pytest.raises(ValueError, match=r"holds a different sweep \(seeds was 1, now 2\)"):
        TrialLog(tmp_path, {**spec, "seeds": 2}, resume=True)
    resumed = TrialLog(tmp_path, spec, resume=True)
    assert [r["trial"] for r in resumed.records] == [0, 1]
    resumed.append(_record(2, 0, 0.7, lr=0.1))
    resumed.close()
    assert [r["trial"] for r in read_records(tmp_path / "trials.jsonl")] == [0, 1, 2]
    (tmp_path / "trials.jsonl").write_text('{"trial": 0, "status": "ok"}\nnot json\n')
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        read_records(tmp_path / "trials.jsonl")
