"""Measure the generalisation lab's curves and train the twin and few-digit models.

    python tools/generalisation_lab.py RUN_NAME SIZE OFFSET OUT_DIR

writes OUT_DIR/RUN_NAME.json (the curve: one LabPoint per evaluation) and
OUT_DIR/RUN_NAME.safetensors (the final EMA weights, with the subset in the metadata).
Runs used for resources/generalisation.json and the bundled twin/few models (one thread each):
    few-a 64 0, few-b 64 64 (2,000 steps); n256 256 0, n1024 1024 0, twin-a 4500 0,
    twin-b 4500 4500 (1,000 steps). The twins and few-* files are copied to resources/.
"""
import json
import sys
import time
from pathlib import Path

import torch

from ddpm_desktop.core import checkpoint
from ddpm_desktop.core.generalisation import LAB_STEPS, iter_lab


def main(name: str, size: int, offset: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    out = Path(out_dir)
    trainer_box: list = []
    points = []
    started = time.perf_counter()
    # The 64-digit runs go to 2,000 steps (they copy from ~500 on); the larger sets
    # to 1,000 (the fast recipe's classifier accuracy passes 95% at 680 steps).
    steps = LAB_STEPS if size <= 64 else 1000
    for point in iter_lab(size, steps=steps, offset=offset, trainer_out=trainer_box):
        points.append(point.to_dict())
        print(name, json.dumps(point.to_dict()), flush=True)
        (out / f"{name}.json").write_text(json.dumps(
            {"name": name, "size": size, "subset_seed": 0, "offset": offset, "steps": steps,
             "points": points}, indent=1))
    extra = {"dataset": "mnist", "class_names": [str(i) for i in range(10)], "world_size": 1}
    if size < 9000:
        extra["subset"] = {"n": size, "seed": 0, "offset": offset, "data": "mnist"}
    checkpoint.save_checkpoint(out / f"{name}.safetensors", trainer_box[0], extra)
    print(name, "done in", round(time.perf_counter() - started), "s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
