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

from glassnet._blas import blas_threads
from glassnet.commands._common import add_data_dir, add_threads, check_writable, emit_json, load_mnist
from glassnet.schedules import NAMED_SCHEDULES, learning_rate

HELP = "train an MNIST digit recogniser (784 inputs, 10 outputs), report test accuracy and save the model"

PRESETS: dict[str, dict[str, Any]] = {
    # "architecture": mlp (784-hidden...-10), cnn (two 5x5 conv + 2x2 max-pool stages, then the hidden dense
    # layers), lstm (the image read as 28 rows of 28 pixels by an LSTM of hidden[0] units)
    # the best MLP we know how to train here in under a minute on 2 cores: distorted digits, label smoothing and
    # cosine annealing take it past LeCun et al.'s 98.4% for 800 hidden units
    "default": {"architecture": "mlp", "hidden": [512, 256], "activation": "relu", "loss": "cross_entropy",
                "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "decay": 1.0, "epochs": 12, "batch_size": 128,
                "dropout": 0.2, "l2": 0.0, "init": "auto", "early_stopping": 0, "validation": 1 / 12,
                "schedule": "cosine", "warmup": 0, "label_smoothing": 0.1,
                "augment": "shift=1.5,rotate=8,scale=0.08,shear=0.1"},
    # Nielsen, "Neural Networks and Deep Learning", ch. 1: 784-30-10 sigmoid, quadratic cost, eta = 3.0
    "nielsen": {"architecture": "mlp", "hidden": [30], "activation": "sigmoid", "loss": "mse", "optimizer": "sgd",
                "lr": 3.0, "momentum": 0.0, "decay": 1.0, "epochs": 30, "batch_size": 10, "dropout": 0.0, "l2": 0.0,
                "init": "standard_normal", "early_stopping": 0, "validation": 1 / 12},
    # 3Blue1Brown's network: 784-16-16-10 sigmoid, quadratic cost (13,002 parameters); plain SGD plateaus
    # near 94% here; Adam at a low rate with a warm-up and cosine annealing, nearly all the training data and
    # mildly distorted digits (the network fits its training images 2.7 points better than the test images
    # without them) get past 96%
    "3b1b": {"architecture": "mlp", "hidden": [16, 16], "activation": "sigmoid", "loss": "mse", "optimizer": "adam",
             "lr": 0.002, "momentum": 0.0, "decay": 1.0, "epochs": 60, "batch_size": 16, "dropout": 0.0, "l2": 0.0,
             "init": "xavier", "early_stopping": 0, "validation": 0.02, "schedule": "cosine", "warmup": 1,
             "augment": "shift=1,rotate=6,scale=0.06,shear=0.08"},
    # LeNet-style: conv 5x5x32 - pool - conv 5x5x64 - pool - dense 256 - 10 (LeNet-5 reported 99.05%), trained on
    # distorted digits (Simard et al. 2003 reached 99.6% so) with label smoothing, a warm-up and cosine annealing
    "cnn": {"architecture": "cnn", "hidden": [256], "activation": "relu", "loss": "cross_entropy",
            "optimizer": "adam", "lr": 1.5e-3, "momentum": 0.0, "decay": 1.0, "epochs": 16, "batch_size": 64,
            "dropout": 0.3, "l2": 0.0, "init": "auto", "early_stopping": 0, "validation": 1 / 12,
            "schedule": "cosine", "warmup": 1, "label_smoothing": 0.1, "augment": "on"},
    # each image as a sequence of 28 rows of 28 pixels, read by an LSTM with 128 units
    "lstm": {"architecture": "lstm", "hidden": [128], "activation": "relu", "loss": "cross_entropy",
             "optimizer": "adam", "lr": 2e-3, "momentum": 0.0, "decay": 1.0, "epochs": 14, "batch_size": 64,
             "dropout": 0.0, "l2": 0.0, "init": "auto", "early_stopping": 0, "validation": 1 / 12,
             "schedule": "cosine", "warmup": 1, "label_smoothing": 0.1,
             "augment": "shift=2,rotate=8,scale=0.08,shear=0.1"},
}

OUTPUT_ACTIVATION = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid", "mse": "sigmoid"}
COMMON = {"l1": 0.0, "batch_norm": False, "schedule": "exponential", "warmup": 0, "label_smoothing": 0.0,
          "augment": "off"}
"""Settings every preset shares (presets may override them)."""
MNIST_META = {"task": "mnist", "input": "28x28 grey pixels in [0, 1], row-major, ink bright on 0",
              "classes": list(range(10))}
"""What a saved digit recogniser's ``meta`` says about its input and output."""


def _int_list(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer sizes like 128,64, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=sorted(PRESETS), default="default",
                   help="starting configuration; the options below override it (default: default)")
    p.add_argument("--hidden", type=_int_list, metavar="N,N",
                   help="hidden layer sizes, e.g. 128,64 (cnn: dense layers after the convolutions; lstm: units)")
    p.add_argument("--activation", help="hidden activation: relu, sigmoid, tanh, leaky_relu, ...")
    p.add_argument("--loss", help="cross_entropy (softmax output), mse or binary_cross_entropy (sigmoid output)")
    p.add_argument("--optimizer", help="sgd, adam or rmsprop")
    p.add_argument("--lr", type=float, help="learning rate eta")
    p.add_argument("--momentum", type=float, help="SGD momentum mu")
    p.add_argument("--decay", type=float, help="learning-rate decay per epoch: eta_t = eta * decay^t (1 = none)")
    p.add_argument("--schedule", choices=NAMED_SCHEDULES,
                   help="learning-rate schedule: exponential (eta decay^t, with --decay), cosine "
                        "(warm-up, then cosine annealing to 0 at the last epoch) or onecycle (up to --lr over "
                        "the first 30%%, then down); cosine and onecycle change eta every batch")
    p.add_argument("--warmup", type=int, metavar="N",
                   help="cosine: epochs of linear warm-up (default 0); onecycle: epochs of the rise (default 30%%)")
    p.add_argument("--label-smoothing", type=float, metavar="EPS",
                   help="cross_entropy: train on (1 - EPS) y + EPS / 10 in place of one-hot y (default 0)")
    p.add_argument("--augment", nargs="?", const="on", metavar="SPEC",
                   help="distort every training image afresh: random shifts, rotations, scaling and shear, "
                        "elastic with alpha > 0; SPEC like shift=2,rotate=10,scale=0.1,shear=0.15,alpha=34,"
                        "sigma=4 (unnamed keys keep these defaults, alpha 0); off: none")
    p.add_argument("--epochs", type=int, help="maximum number of epochs")
    p.add_argument("--batch-size", type=int, help="mini-batch size (0: full batch)")
    p.add_argument("--l1", type=float, help="L1 penalty lambda on all weights (default 0)")
    p.add_argument("--l2", type=float, help="L2 penalty lambda on all weights")
    p.add_argument("--dropout", type=float, help="dropout rate after each hidden layer")
    p.add_argument("--batch-norm", action=argparse.BooleanOptionalAction,
                   help="batch normalisation of each hidden dense layer's and each convolution's z, before its "
                        "activation (default: off)")
    p.add_argument("--init", help="weight initialisation: auto, he, xavier, lecun, normal, standard_normal")
    p.add_argument("--early-stopping", type=int, metavar="N",
                   help="stop after N epochs without validation improvement (0: off)")
    p.add_argument("--validation", type=float, metavar="FRACTION",
                   help="fraction of the training set held out for validation (presets: 1/12, i.e. 5,000 "
                        "images; 3b1b: 0.02)")
    add_threads(p)
    p.add_argument("--seed", type=int, default=0, help="seed for weights, shuffling and dropout (default 0)")
    add_data_dir(p)
    p.add_argument("--sample", action="store_true",
                   help="use the embedded 5,000 / 1,000-image MNIST sample (quick runs)")
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
    p.add_argument("--json", action="store_true", help="end with one JSON line of results on stdout")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress")


def resolve(args: argparse.Namespace) -> dict[str, Any]:
    """The preset's settings with every option given on the command line applied on top."""
    cfg = {**COMMON, **PRESETS[getattr(args, "preset", None) or "default"]}
    for key in cfg:
        value = getattr(args, key, None)
        if value is not None:
            cfg[key] = value
    return cfg


def build(cfg: dict[str, Any], seed: int) -> Any:
    """The compiled Sequential for a resolved configuration."""
    import glassnet as gn

    if cfg["loss"] not in OUTPUT_ACTIVATION:
        gn.get_loss(cfg["loss"])  # unknown names fail with the list of losses
        raise ValueError(f"loss {cfg['loss']!r} cannot train the digit recogniser; use "
                         f"{', '.join(OUTPUT_ACTIVATION)}")
    layers: list[gn.Layer] = []
    augment = cfg.get("augment", "off")
    if augment not in ("off", "", None):
        layers.append(gn.Augment.from_spec(augment))
    sizes = [784, *cfg["hidden"]]
    act, bn = cfg["activation"], bool(cfg.get("batch_norm"))

    def hidden(layer: type[gn.Layer], *args: Any, **kwargs: Any) -> list[gn.Layer]:
        """A hidden layer computing z, then f; with batch norm z is normalised first: BatchNorm(z), then f."""
        if not bn:
            return [layer(*args, activation=act, **kwargs)]
        return [layer(*args, **kwargs), gn.BatchNorm(activation=act)]

    if cfg["architecture"] == "cnn":
        layers += [gn.Reshape((1, 28, 28)), *hidden(gn.Conv2D, 1, 32, 5), gn.MaxPool2D(2),
                   *hidden(gn.Conv2D, 32, 64, 5), gn.MaxPool2D(2), gn.Flatten()]
        sizes[0] = 64 * 4 * 4
    elif cfg["architecture"] == "lstm":
        layers += [gn.Reshape((28, 28)), gn.LSTM(28, cfg["hidden"][0])]
        sizes = sizes[1:2]
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += hidden(gn.Dense, n_in, n_out, init=cfg["init"])
        if cfg["dropout"]:
            layers.append(gn.Dropout(cfg["dropout"]))
    layers.append(gn.Dense(sizes[-1], 10, activation=OUTPUT_ACTIVATION[cfg["loss"]], init=cfg["init"]))
    lr = _schedule(cfg)
    name = cfg["optimizer"].lower()
    if name == "sgd":
        optimizer = gn.SGD(lr, momentum=cfg["momentum"])
    else:
        from glassnet._checks import lookup
        from glassnet.optim import OPTIMIZERS

        optimizer = lookup(OPTIMIZERS, name, "optimizer")(lr)
    model = gn.Sequential(layers, seed=seed, input_shape=(784,))
    loss: Any = cfg["loss"]
    if cfg.get("label_smoothing"):
        if gn.get_loss(loss).key != "cross_entropy":
            raise ValueError(f"--label-smoothing needs --loss cross_entropy, not {loss}")
        loss = gn.CrossEntropy(label_smoothing=cfg["label_smoothing"])
    return model.compile(loss=loss, optimizer=optimizer, l1=cfg.get("l1", 0.0), l2=cfg["l2"])


def _schedule(cfg: dict[str, Any]) -> Any:
    """The learning rate of a configuration: a float, or the schedule it names."""
    return learning_rate(cfg.get("schedule", "exponential"), cfg["lr"], cfg["epochs"], cfg["decay"],
                         cfg.get("warmup", 0))


def fit_model(model: Any, cfg: dict[str, Any], X: Any, y: Any, seed: int, verbose: int = 0,
              callbacks: list[Any] | tuple[Any, ...] = ()) -> Any:
    """Train ``build(cfg, seed)``'s model on (X, y) as ``glassnet train`` does: cfg's epochs, batch size and
    validation split, early stopping on the validation loss when cfg asks for it; returns the History."""
    import glassnet as gn

    stop = [gn.EarlyStopping("val_loss", patience=cfg["early_stopping"])] if cfg["early_stopping"] else []
    return model.fit(X, y, epochs=cfg["epochs"], batch_size=cfg["batch_size"] or None,
                     validation_split=cfg["validation"], callbacks=[*stop, *callbacks], seed=seed, verbose=verbose)


def run(args: argparse.Namespace) -> int:
    with blas_threads(args.threads):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    import glassnet as gn

    if args.plots:
        from glassnet._checks import require_extra

        require_extra("matplotlib", "plot", "--plots")
    if getattr(args, "log_dir", None) or _resumes_run(args):
        from glassnet._checks import require_extra

        require_extra("tensorboardX", "runs", "--log-dir")
    cfg, seed, resume, ckpt_dir = _settings(args)  # a resumed run's own settings (and args.preset)
    if cfg["epochs"] < 1:
        raise ValueError(f"--epochs must be >= 1, got {cfg['epochs']}")
    check_writable(Path(args.out).parent, "--out")
    for folder, option in ((ckpt_dir, "--checkpoint-dir"), (args.plots, "--plots"), (args.log_dir, "--log-dir")):
        if folder:
            check_writable(Path(folder), option)
    model = build(cfg, seed)
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
        from glassnet.runs import RunLogger

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
    print(f"test accuracy {test['accuracy']:.4f} ({n_right:,}/{X_test.shape[0]:,}) after {epochs_run} epochs "
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
    from glassnet import checkpoint

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
    from glassnet.runs import is_run

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
    from glassnet.checkpoint import checkpoints

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
