"""``glassnet predict`` written with PyTorch, for the start-up and memory comparison in ``speed.py``.

    python bench/predict_torch.py weights.pt digit.png [--threads 2]

Builds the 784-512-256-10 ReLU network, loads its state_dict, turns the picture into an MNIST row with
glassnet's own preprocessing (``glassnet.images.load_digit``: the same code ``glassnet predict`` runs)
and prints the three likeliest digits.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from glassnet.data.images import load_digit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256),
                              torch.nn.ReLU(), torch.nn.Linear(256, 10))
    net.load_state_dict(torch.load(args.weights, weights_only=True))
    net.eval()
    x = torch.from_numpy(np.stack([load_digit(p) for p in args.images]))
    with torch.no_grad():
        probs = torch.softmax(net(x), dim=1)
    for path, p in zip(args.images, probs, strict=True):
        top = torch.argsort(-p)[:3]
        print(f"{path}: " + ", ".join(f"{int(k)} ({float(p[k]):.3f})" for k in top))


if __name__ == "__main__":
    main()
