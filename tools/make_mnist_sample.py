"""Write ``src/glassnet/datasets/mnist_sample.npz``: the first training and test images of the full MNIST set.

Usage: ``python tools/make_mnist_sample.py [--data-dir DIR] [--n-train 5000] [--n-test 1000] [--out PATH]``.
The full set is read (and checksummed) through ``glassnet.datasets.mnist``; ``--data-dir`` defaults to
``$GLASSNET_DATA_DIR``, else the ``shared/datasets/mnist`` folder beside the repository.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from glassnet.datasets import mnist

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = os.environ.get("GLASSNET_DATA_DIR") or REPO.parent / "shared" / "datasets" / "mnist"
    parser.add_argument("--data-dir", type=Path, default=Path(default_dir))
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=mnist.SAMPLE_PATH)
    args = parser.parse_args(argv)

    arrays = {}
    for split, n in (("train", args.n_train), ("test", args.n_test)):
        directory, _ = mnist.locate(split, args.data_dir)
        paths = mnist._split_files(directory, split)
        pairs = zip(paths, mnist.FILES[split], strict=True)
        images, labels = (mnist.read_idx(p, mnist.SHA256[name]) for p, name in pairs)
        arrays[f"{split}_images"] = np.ascontiguousarray(images[:n])  # uint8 (n, 28, 28)
        arrays[f"{split}_labels"] = np.ascontiguousarray(labels[:n])  # uint8 (n,)
    np.savez_compressed(args.out, **arrays)
    counts = ", ".join(f"{k} {v.shape}" for k, v in arrays.items())
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {counts}")


if __name__ == "__main__":
    main()
