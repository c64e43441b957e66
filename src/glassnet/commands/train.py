"""``glassnet train``: train an MNIST digit recogniser, report its test accuracy, save it.

Nothing is lost: with ``--checkpoint-dir`` every epoch leaves a checkpoint that ``--resume`` continues
from, bit for bit; Ctrl-C or SIGTERM stops at once and saves the weights of the last finished (or best)
epoch to ``--out`` before exiting with 130 or 143.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from glassnet._base.blas import blas_threads
from glassnet.commands._common import (
    COUNT,
    FRACTION,
    NON_NEGATIVE,
    NON_NEGATIVE_INT,
    POSITIVE,
    BadValue,
    Number,
    UsageError,
    add_data,
    add_json,
    add_quiet,
    add_seed,
    add_threads,
    check_data_options,
    check_output_file,
    check_writable,
    emit_json,
    epochs_text,
    load_mnist,
)
from glassnet.optim.schedules import NAMED_SCHEDULES
from glassnet.presets import COMMON, PRESETS, build

HELP = "train an MNIST digit recogniser (784 inputs, 10 outputs), report test accuracy and save the model"
DECAY = Number("float", 0, 1, low_open=True)
BATCH = Number("int", 0, words="a whole number >= 1 (or 0: the full batch)")

def _int_list(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise BadValue(f"must be comma-separated layer sizes like 128,64, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise BadValue(f"must be positive layer sizes, got {text!r}")
    return sizes


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=sorted(PRESETS), default="default",
                   help="starting configuration; the options below override it (default: default)")
    p.add_argument("--hidden", type=_int_list, metavar="N,N",
                   help="hidden layer sizes, e.g. 128,64 (cnn: dense layers after the convolutions; lstm: units)")
    p.add_argument("--activation", help="hidden activation: relu, sigmoid, tanh, leaky_relu, ...")
    p.add_argument("--loss", help="cross_entropy (softmax output), mse or binary_cross_entropy (sigmoid output)")
    p.add_argument("--optimizer", help="sgd, adam or rmsprop")
    p.add_argument("--lr", type=POSITIVE, help="learning rate eta")
    p.add_argument("--momentum", type=FRACTION, help="SGD momentum mu, in [0, 1)")
    p.add_argument("--decay", type=DECAY, help="learning-rate decay per epoch: eta_t = eta * decay^t (1 = none)")
    p.add_argument("--schedule", choices=NAMED_SCHEDULES,
                   help="learning-rate schedule: exponential (eta decay^t, with --decay), cosine "
                        "(warm-up, then cosine annealing to 0 at the last epoch) or onecycle (up to --lr over "
                        "the first 30%%, then down); cosine and onecycle change eta every batch")
    p.add_argument("--warmup", type=NON_NEGATIVE_INT, metavar="N",
                   help="cosine: epochs of linear warm-up (default 0); onecycle: epochs of the rise (default 30%%)")
    p.add_argument("--label-smoothing", type=FRACTION, metavar="EPS",
                   help="cross_entropy: train on (1 - EPS) y + EPS / 10 in place of one-hot y (default 0)")
    p.add_argument("--augment", nargs="?", const="on", metavar="SPEC",
                   help="distort every training image afresh: random shifts, rotations, scaling and shear, "
                        "elastic with alpha > 0; SPEC like shift=2,rotate=10,scale=0.1,shear=0.15,alpha=34,"
                        "sigma=4 (unnamed keys keep these defaults, alpha 0); pens, blur and low resolution "
                        "with thicken=2,thin=1 (pixels), blur=SIGMA, lowres=P (probability; all 0 unless named); "
                        "off: none")
    p.add_argument("--epochs", type=COUNT, help="maximum number of epochs")
    p.add_argument("--batch-size", type=BATCH, help="mini-batch size (0: full batch)")
    p.add_argument("--l1", type=NON_NEGATIVE, help="L1 penalty lambda on all weights (default 0)")
    p.add_argument("--l2", type=NON_NEGATIVE, help="L2 penalty lambda on all weights")
    p.add_argument("--dropout", type=FRACTION, help="dropout rate after each hidden layer")
    p.add_argument("--batch-norm", action=argparse.BooleanOptionalAction,
                   help="batch normalisation of each hidden dense layer's and each convolution's z, before its "
                        "activation (default: off)")
    p.add_argument("--init", help="weight initialisation: auto, he, xavier, lecun, normal, standard_normal")
    p.add_argument("--early-stopping", type=NON_NEGATIVE_INT, metavar="N",
                   help="stop after N epochs without validation improvement (0: off)")
    p.add_argument("--validation", type=FRACTION, metavar="FRACTION",
                   help="fraction of the training set held out for validation (presets: 1/12, i.e. 5,000 "
                        "images; 3b1b: 0.02)")
    add_threads(p)
    add_seed(p)
    add_data(p)
    p.add_argument("--out", default="model.npz", help="where to save the model (default model.npz)")
    p.add_argument("--checkpoint-dir", metavar="DIR",
                   help="write the whole training state here after every epoch (keeps the newest two)")
    p.add_argument("--resume", nargs="?", const=True, metavar="DIR",
                   help="continue the run whose checkpoints are in DIR, with its own settings (only --epochs "
                        "may change); without DIR: the --checkpoint-dir, if it holds a checkpoint, else a new run")
    p.add_argument("--log-dir", metavar="DIR",
                   help="record the run here: every epoch's history, per-layer statistics, weights and outputs on "
                        "100 test digits, and TensorBoard events (glassnet playground --runs DIR replays it; "
                        "checkpoints go to DIR/checkpoints unless --checkpoint-dir; --resume DIR continues it)")
    p.add_argument("--plots", metavar="DIR", help="also write training curves, weights and confusion matrix here")
    add_json(p)
    add_quiet(p, "no per-epoch progress")


def resolve(args: argparse.Namespace) -> dict[str, Any]:
    """The preset's settings with every option given on the command line applied on top."""
    cfg = {**COMMON, **PRESETS[getattr(args, "preset", None) or "default"]}
    for key in cfg:
        value = getattr(args, key, None)
        if value is not None:
            cfg[key] = value
    return cfg


def run(args: argparse.Namespace) -> int:
    with blas_threads(args.threads or 0):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    import glassnet as gn

    if args.plots:
        from glassnet._base.extras import require_extra

        require_extra("matplotlib", "plot", "--plots")
    if getattr(args, "log_dir", None) or _resumes_run(args):
        from glassnet._base.extras import require_extra

        require_extra("tensorboardX", "runs", "--log-dir")
    check_data_options(args)
    cfg, seed, resume, ckpt_dir = _settings(args)  # a resumed run's own settings (and args.preset)
    if cfg["epochs"] < 1:
        raise UsageError(f"--epochs must be >= 1, got {cfg['epochs']}")
    if cfg.get("label_smoothing") and cfg["loss"] != "cross_entropy":
        raise UsageError(f"--label-smoothing needs --loss cross_entropy, not {cfg['loss']}")
    check_output_file(args.out, "--out")
    for folder, option in ((ckpt_dir, "--checkpoint-dir"), (args.plots, "--plots"), (args.log_dir, "--log-dir")):
        if folder:
            check_writable(Path(folder), option)
    try:
        model = build(cfg, seed)
    except (ValueError, TypeError) as e:  # a name, a schedule's warm-up, a loss and its options: the settings
        raise UsageError(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
    X, y, source = load_mnist("train", args.data_dir, sample=args.sample)
    X_test, y_test, _ = load_mnist("test", args.data_dir, quiet=True, sample=args.sample)
    model.summary(file=sys.stderr)
    callbacks: list[Any] = []
    if cfg["early_stopping"]:
        callbacks.append(gn.EarlyStopping("val_loss", patience=cfg["early_stopping"]))
    if ckpt_dir:
        meta = {"train": {"preset": args.preset, "config": cfg, "seed": seed}}
        callbacks.append(gn.TrainingCheckpoint(ckpt_dir, meta=meta))
    if args.log_dir:
        from glassnet.train.runs import RunLogger

        callbacks.append(RunLogger(args.log_dir, probe=(X_test[:100], y_test[:100]), resume=resume is not None,
                                   meta={"preset": args.preset, "config": cfg, "seed": seed, "data": source}))
    start = time.perf_counter()
    try:
        with _sigterm_interrupts():
            history = model.fit(X, y, epochs=cfg["epochs"], batch_size=cfg["batch_size"] or None,
                                validation_split=cfg["validation"], callbacks=callbacks, seed=seed,
                                verbose=0 if args.quiet else 1, resume=resume)
    except KeyboardInterrupt as e:
        return _save_interrupted(model, args, cfg, getattr(e, "signum", signal.SIGINT), ckpt_dir)
    seconds = time.perf_counter() - start
    test = model.evaluate(X_test, y_test)
    epochs_run = len(history.epoch)
    result = {
        "preset": args.preset, "test_accuracy": round(test["accuracy"], 4), "test_loss": round(test["loss"], 5),
        "seconds": round(seconds, 2), "epochs": epochs_run, "parameters": model.count_params(),
        "best_epoch": history.events.get("best_epoch", epochs_run - 1) + 1,
        "val_accuracy": round(history["val_accuracy"][-1], 4) if "val_accuracy" in history.history else None,
        "train_images": int(X.shape[0]), "test_images": int(X_test.shape[0]), "data": source, "model": args.out,
    }
    model.meta = _meta(cfg, {k: result[k] for k in ("test_accuracy", "seconds", "epochs", "train_images")})
    model.save(args.out)
    if args.plots:
        from glassnet.plot import write_training_plots

        for path in write_training_plots(model, history, X_test, y_test, args.plots):
            print(f"wrote {path}", file=sys.stderr)
    n_right = int(round(test["accuracy"] * X_test.shape[0]))
    print(f"test accuracy {test['accuracy']:.4f} ({n_right:,}/{X_test.shape[0]:,}) after {epochs_text(epochs_run)} "
          f"in {seconds:.1f} s; model saved to {args.out}")
    if args.json:
        emit_json(result)
    return 0


def _meta(cfg: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    return {"task": "mnist", "input": "28x28 grey pixels in [0, 1], row-major, ink bright on 0",
            "classes": list(range(10)), "config": cfg, "results": results}


def _settings(args: argparse.Namespace) -> tuple[dict[str, Any], int, Any, str | None]:
    """(configuration, seed, what to resume from, checkpoint folder). A resumed run takes its settings
    from its checkpoint; an option given now that disagrees with them is an error, except --epochs."""
    from glassnet.train import checkpoint

    cfg, seed = resolve(args), args.seed
    args.log_dir = getattr(args, "log_dir", None)
    if _resumes_run(args):  # --resume RUN: the run's own checkpoints, and the run goes on in its folder
        args.log_dir = args.log_dir or args.resume
        args.resume = str(Path(args.resume) / "checkpoints")
    if args.log_dir and not args.checkpoint_dir:
        args.checkpoint_dir = str(Path(args.log_dir) / "checkpoints")
    ckpt_dir = args.checkpoint_dir or (args.resume if isinstance(args.resume, str) else None)
    if args.resume is None:
        return cfg, seed, None, ckpt_dir
    if args.resume is True and not args.checkpoint_dir:
        raise ValueError("--resume without a folder resumes from --checkpoint-dir DIR or --log-dir DIR; give one")
    folder = args.checkpoint_dir if args.resume is True else args.resume
    found = checkpoint.find(folder)
    if found is None:
        if args.resume is not True:
            raise checkpoint.CheckpointError(f"{folder}: no complete checkpoint to resume from")
        print(f"glassnet: no checkpoint in {folder} yet; starting a new run", file=sys.stderr)
        return cfg, seed, None, ckpt_dir
    path, state = found
    saved = (state.get("meta") or {}).get("train")
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        raise checkpoint.CheckpointError(f"{path} was not written by glassnet train")
    defaults = {"preset": "default", "seed": 0}  # an option left at its default counts as not given
    given = {"preset": args.preset, "seed": args.seed,
             **{k: getattr(args, k, None) for k in {**COMMON, **PRESETS["default"]}}}
    for key, value in given.items():
        old = saved.get(key, saved["config"].get(key, COMMON.get(key)))
        if value is not None and value != defaults.get(key) and key != "epochs" and value != old:
            raise ValueError(f"--{key.replace('_', '-')} {value} differs from the run being resumed ({old}); a "
                             "resumed run keeps its settings (only --epochs may change)")
    cfg = {**saved["config"], "epochs": cfg["epochs"] if args.epochs is not None else saved["config"]["epochs"]}
    args.preset = saved.get("preset", args.preset)
    print(f"glassnet: resuming from {path} (epoch {state['epoch'] + 1} of {cfg['epochs']})", file=sys.stderr)
    return cfg, saved["seed"], path, ckpt_dir


def _resumes_run(args: argparse.Namespace) -> bool:
    """``--resume DIR`` names a run folder (written with --log-dir) rather than a checkpoint folder."""
    from glassnet.train.runs import is_run

    return isinstance(getattr(args, "resume", None), str) and is_run(args.resume)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, like Ctrl-C's KeyboardInterrupt."""

    signum = signal.SIGTERM


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While training, SIGTERM interrupts like Ctrl-C; the previous handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _save_interrupted(model: Any, args: argparse.Namespace, cfg: dict[str, Any], signum: int,
                      ckpt_dir: str | None) -> int:
    """Save the weights ``fit`` left in the model (last finished or best epoch) and say so in one line."""
    events = model.history.events if model.history is not None else {}
    epoch, stopped = events.get("weights_epoch", -1), events.get("interrupted_epoch", 0)
    name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
    from glassnet.train.checkpoint import checkpoints

    resume = f"; continue with --resume {ckpt_dir}" if ckpt_dir and checkpoints(ckpt_dir) else ""
    if epoch < 0:
        print(f"glassnet train: interrupted ({name}) in epoch {stopped + 1} before any epoch finished; nothing "
              f"saved{resume}", file=sys.stderr)
    else:
        which = "best" if cfg["early_stopping"] and events.get("best_epoch") == epoch else "last finished"
        model.meta = _meta(cfg, {"interrupted_in_epoch": stopped + 1, "epochs": epoch + 1})
        model.save(args.out)
        print(f"glassnet train: interrupted ({name}) in epoch {stopped + 1}/{cfg['epochs']}: saved the weights "
              f"of epoch {epoch + 1} ({which}) to {args.out}{resume}", file=sys.stderr)
    return 128 + signum
