"""Runs: every epoch of a training run recorded in a folder, replayed later, and seen in TensorBoard.

    model.fit(X, y, epochs=12, log_dir="runs/a")        # or callbacks=[gn.RunLogger("runs/a", probe=(Xp, yp))]
    run = gn.load_run("runs/a")
    run.history["val_accuracy"], run.model(7).predict(x) # the model after epoch 7, bit for bit

A run folder holds plain files only, each written atomically (temporary file, then ``os.replace``):

- ``run.json``: the versioned config: the model's architecture and compile settings, the fit settings, ``meta``;
- ``probe.npz``: the probe set (up to 100 inputs and their labels) whose outputs are kept every epoch;
- ``snapshots/epoch-NNNN.npz``: the weights and buffers (float32) after epoch NNNN (0: before training) and
  the probe set's outputs; every epoch up to ``cap`` snapshots, then every 2nd, 4th, ... (thinned evenly);
- ``manifest.json``: written last after each epoch: per epoch the history row (loss, accuracy, learning rate,
  the per-layer statistics: gradient norm, dead fraction, update-to-weight ratio) and its snapshot's file;
- ``events.out.tfevents.*``: TensorBoard's event files, written by tensorboardX (scalars, per-layer
  histograms of weights and gradients, the first layer's weights as images): ``tensorboard --logdir runs``.

A run killed at any moment reads up to its last finished epoch (the manifest names only finished
snapshots); ``fit(..., resume=..., log_dir=same)`` appends to it from the epoch resumed.
"""

from glassnet.train.runs.logger import RunLogger
from glassnet.train.runs.reader import Run, RunError, is_run, load_run

__all__ = ["Run", "RunError", "RunLogger", "is_run", "load_run"]
