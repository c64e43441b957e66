"""``glassnet sweep``: grid and random search over ``glassnet train``'s settings, several seeds each,
successive halving, on local processes or a Dask cluster; ``glassnet sweep show DIR`` prints the report."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import Any

from glassnet.commands import train
from glassnet.commands._common import COUNT, add_seed, add_threads, check_data_options, emit_json

HELP = ("search glassnet train's settings (grid, random, seeds, successive halving) on local processes or a "
        "Dask cluster; 'glassnet sweep show DIR' prints the results")

_OWN = frozenset({"--out", "--seed", "--threads", "--plots", "--resume", "--checkpoint-dir", "--log-dir"})
"""glassnet train options that the sweep defines itself, or has no use for."""


class _TrainOptions:
    """Forwards ``glassnet train``'s ``add_argument`` calls to a group, less the options in ``_OWN``."""

    def __init__(self, group: Any) -> None:
        self.group = group

    def add_argument(self, *flags: str, **kwargs: Any) -> Any:
        if not _OWN.intersection(flags):
            return self.group.add_argument(*flags, **kwargs)
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.group, name)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.usage = ("glassnet sweep (--grid KEY=V1,V2,... | --random KEY=DIST | --seeds N) --out DIR [options]\n"
               "       glassnet sweep show DIR [--sort KEY] [--top N] [--plot PATH]")
    s = p.add_argument_group("the search")
    s.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="every listed value of a glassnet train option (repeatable: all combinations), e.g. "
                        "lr=0.01,0.1 or hidden=128,512-256")
    s.add_argument("--random", action="append", default=[], metavar="KEY=DIST",
                   help="draws of an option: KEY=uniform(A,B), KEY=loguniform(A,B) or KEY=choice(V1,V2,...)")
    s.add_argument("--trials", type=COUNT, metavar="N", help="random draws (per grid point; default 10)")
    s.add_argument("--seeds", type=COUNT, default=1, metavar="N",
                   help="seeds per configuration, reported as mean and spread (default 1)")
    add_seed(s, "base seed of the trial seeds and random draws (default 0)")
    s.add_argument("--halving", action="store_true",
                   help="successive halving over epochs: train all for a few epochs, keep the best third, ...")
    s.add_argument("--metric", choices=("val_accuracy", "val_loss"), default="val_accuracy",
                   help="what ranks the trials (default val_accuracy)")
    w = p.add_argument_group("where trials run and what is kept")
    w.add_argument("--jobs", type=COUNT, metavar="N",
                   help="local worker processes (default: one per core; 1: in this process); with --scheduler "
                        "local, the local Dask workers")
    w.add_argument("--scheduler", metavar="ADDRESS",
                   help="a Dask scheduler (tcp://HOST:8786, started with 'dask scheduler' and 'dask worker'), "
                        "or 'local' for a Dask cluster on this machine; needs glassnet[distributed]")
    add_threads(w, default=1)
    w.add_argument("--out", metavar="DIR", help="folder for sweep.json, trials.jsonl and best.npz (required)")
    w.add_argument("--resume", action="store_true", help="continue the sweep in --out: run only missing trials")
    w.add_argument("--record-runs", action="store_true",
                   help="record every trial's run in OUT/runs (needs glassnet[runs]); glassnet playground --runs "
                        "OUT/runs replays them epoch by epoch")
    w.add_argument("--train-images", type=COUNT, metavar="N", help="train on the first N training images only")
    w.add_argument("--test-images", type=COUNT, metavar="N", help="test on the first N test images only")
    train.add_arguments(_TrainOptions(p.add_argument_group("fixed settings: any glassnet train option")))
    sub = p.add_subparsers(dest="action", help=argparse.SUPPRESS)  # named once, in the usage and the description
    show = sub.add_parser("show", help="print the table of a sweep and plot its metric against each option",
                          description="print the table of a sweep (one row per configuration, mean +- standard "
                                      "deviation over its seeds) and plot its metric against each swept option")
    show.add_argument("dir", metavar="DIR", help="the sweep's --out folder")
    show.add_argument("--sort", metavar="KEY", help="a swept option, the metric, the test metric or seconds "
                                                    "(default: the metric, best first)")
    show.add_argument("--top", type=COUNT, metavar="N", help="only the first N rows")
    show.add_argument("--plot", metavar="PATH", help="where to draw the plot (default DIR/sweep.png)")


def sweepable() -> dict[str, Any]:
    """The sweepable keys: every ``glassnet train`` option that sets a configuration value, each read from
    text by that option's own type (``hidden`` also as 512-256 or [512,256])."""
    from glassnet.sweep.space import Option

    parser = argparse.ArgumentParser(add_help=False)
    train.add_arguments(parser)
    keys = set(train.COMMON).union(*train.PRESETS.values())
    lists = {k for preset in train.PRESETS.values() for k, v in preset.items() if isinstance(v, list)}
    options = {}
    for action in parser._actions:
        if action.dest in keys:
            kind = getattr(action.type, "kind", {float: "float", int: "int"}.get(action.type, "other"))
            options[action.dest] = Option(_reader(action, action.dest in lists), kind)
    return options


_BOOLEANS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def _reader(action: argparse.Action, is_list: bool) -> Any:
    if isinstance(action, argparse.BooleanOptionalAction):  # a switch such as --batch-norm: true or false
        def read_switch(text: str) -> bool:
            if text.strip().lower() not in _BOOLEANS:
                raise ValueError(f"expected true or false, got {text!r}")
            return _BOOLEANS[text.strip().lower()]

        return read_switch
    convert = action.type or str
    plain = {"float": float, "int": int}.get(getattr(convert, "kind", ""), convert)  # a checked number's kind
    what = {float: "a number", int: "a whole number"}.get(plain)

    def read(text: str) -> Any:
        if is_list:
            text = text.strip().removeprefix("[").removesuffix("]").replace("-", ",")
        try:
            value = convert(text)
        except (ValueError, argparse.ArgumentTypeError) as e:
            try:  # a number out of its range says so ("must be a positive number, got 0")
                plain(text)
                message = str(e) if what else ""
            except (ValueError, TypeError):
                message = ""
            raise ValueError(message or (f"expected {what}, got {text!r}" if what else str(e))) from None
        if action.choices is not None and value not in action.choices:
            raise ValueError(f"expected one of {', '.join(map(str, action.choices))}, got {text!r}")
        return value

    return read


def _space(args: argparse.Namespace) -> Any:
    from glassnet.sweep.space import Space, parse_grid, parse_random

    options = sweepable()
    grid: dict[str, Any] = {}
    random: dict[str, Any] = {}
    for text, parse, table, flag in [*((t, parse_grid, grid, "--grid") for t in args.grid),
                                     *((t, parse_random, random, "--random") for t in args.random)]:
        key, values = parse(text, options)
        if key in grid or key in random:
            raise ValueError(f"{flag} {key}: {key} is already swept; give each option once")
        if getattr(args, key, None) is not None:
            raise ValueError(f"{key} is both fixed (--{key.replace('_', '-')}) and swept ({flag}); give one")
        table[key] = values
    space = Space.build(grid, random, args.trials)
    if not space.keys and args.seeds < 2:
        raise ValueError("nothing to sweep: give --grid KEY=V1,V2, --random KEY=DIST or --seeds N (N > 1)")
    return space


def run(args: argparse.Namespace) -> int:
    if args.action == "show":
        return _show(args)
    if not args.out:
        raise ValueError("--out DIR is required: the folder for trials.jsonl and best.npz")
    check_data_options(args)
    if args.record_runs:
        from glassnet._base.extras import require_extra

        require_extra("tensorboardX", "runs", "--record-runs")
    from glassnet.parallel.executors import connect, local_cluster, require_distributed
    from glassnet.sweep import driver
    from glassnet.sweep.tasks import TrainSettings, mnist_data

    if args.scheduler:
        require_distributed(f"--scheduler {args.scheduler}")
        if args.jobs is not None and args.scheduler != "local":
            raise ValueError("--jobs counts local processes; a Dask cluster has its own workers (drop --jobs)")
    space = _space(args)
    cfg = train.resolve(args)
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        client = None
        if args.scheduler == "local":
            client = stack.enter_context(local_cluster(args.jobs))
        elif args.scheduler:
            client = connect(args.scheduler)
            stack.callback(client.close)
        data = mnist_data(args.data_dir, args.train_images, args.test_images, quiet=args.quiet,
                          sample=getattr(args, "sample", False))  # glassnet train's --sample, where it has one
        result = driver.run(TrainSettings(cfg, args.preset), data, space, seeds=args.seeds, seed=args.seed,
                            halving=args.halving, metric=args.metric, executor=client, jobs=args.jobs,
                            threads=args.threads, out=args.out, resume=args.resume, record_runs=args.record_runs,
                            verbose=0 if args.quiet else 1)
    print(result.table(top=20))
    best = result.best
    failed = sum(r["status"] != "ok" for r in result.trials)
    if best is not None:
        print(f"best: trial {best['trial']} ({_params(best['params'])}seed {best['seed']}), "
              f"{result.metric} {best[result.metric]:.4f}, test {best.get('test_accuracy', float('nan')):.4f}; "
              f"model {result.folder / 'best.npz'}")
    if args.json:
        emit_json({"trials": len(result.trials), "runs": len(result.records), "ran": result.ran, "failed": failed,
                   "metric": result.metric, "best": best, "best_model": str(result.folder / "best.npz"),
                   "seconds": round(time.perf_counter() - start, 2)})
    return 0


def _params(params: dict[str, Any]) -> str:
    from glassnet.sweep.space import format_value

    return "".join(f"{k}={format_value(v)}, " for k, v in params.items())


def _show(args: argparse.Namespace) -> int:
    from glassnet.sweep.result import load

    result = load(args.dir)
    if not result.records:
        print(f"{args.dir}: no finished trial yet")
        return 0
    print(result.table(sort=args.sort, top=args.top))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("no plot: matplotlib is not installed (pip install 'glassnet[plot]')", file=sys.stderr)
        return 0
    if not result.keys:
        return 0
    path = args.plot or result.folder / "sweep.png"
    result.plot(path)
    print(f"wrote {path}", file=sys.stderr)
    return 0
