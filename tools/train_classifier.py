"""Train the bundled MNIST classifier (the judge for `ddpm-desktop evaluate`).

    python tools/train_classifier.py [--out resources/classifier.safetensors] [--epochs 6]

Uses the bundled training split only; reports accuracy on the held-out split.
"""
import argparse
import sys

import torch

from ddpm_desktop import resources_path
from ddpm_desktop.core.classifier import CLASSIFIER_FILE, train_and_save


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(resources_path(CLASSIFIER_FILE)))
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    info = train_and_save(args.out, epochs=args.epochs, seed=args.seed,
                          log=lambda s: print(s, flush=True))
    print(info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
