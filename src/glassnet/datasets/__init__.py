"""Data sets: MNIST (``glassnet.datasets.mnist.load``), logic gates and seeded toy problems."""

from glassnet.datasets import mnist
from glassnet.datasets.toy import blobs, circles, logic_gate, moons, spirals, train_val_test_split

__all__ = ["blobs", "circles", "logic_gate", "mnist", "moons", "spirals", "train_val_test_split"]
