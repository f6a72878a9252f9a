"""Train the bundled latent map: the 2-D autoencoder and the class-conditional latent
diffusion model on its codes (core/latent.py), evaluate both, save resources/latent.safetensors.

    python tools/train_autoencoder.py [--out resources/latent.safetensors] [--epochs 80]
        [--class-weight 0.15] [--loss bce] [--hidden 512] [--hidden2 256] [--head ring] [--ldm-steps 6000]
        [--guidance 2] [--seed 0] [--threads 1] [--no-save]

The defaults are the bundled file's run (docs/TOY2D.md; about 2 minutes on one thread).

Reproducible: a fixed seed, one thread (torch.set_num_threads), the bundled train split only;
the numbers (training times, reconstruction error on the held-out split, the classifier's
reading of decoded reconstructions and of class samples) go into the file's metadata and
are printed as JSON (docs/TOY2D.md quotes them).
"""
import argparse
import json
import sys
import time

import numpy as np
import torch

from ddpm_desktop import resources_path
from ddpm_desktop.core.classifier import load_classifier, predict
from ddpm_desktop.core.data import load_bundled_mnist
from ddpm_desktop.core.latent import (
    LATENT_FILE,
    NUM_CLASSES,
    LatentAutoencoder,
    LatentModels,
    iter_train_autoencoder,
    raw_codes,
    save_latent,
)
from ddpm_desktop.core.sampling import generator_for, sample
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.core.toy2d_model import iter_toy_training

SAMPLES_PER_CLASS = 200
SAMPLE_STEPS = 100


def knn_purity(codes, labels, test_codes, test_labels, k=10):
    """Held-out accuracy of a k-nearest-neighbour vote in the 2-D map (how separate it is)."""
    d = ((test_codes[:, None, :] - codes[None, :, :]) ** 2).sum(-1)
    nn_idx = np.argpartition(d, k, axis=1)[:, :k]
    votes = np.array([np.bincount(labels[i], minlength=NUM_CLASSES).argmax() for i in nn_idx])
    return float((votes == test_labels).mean())


def evaluate(models: LatentModels, schedule, classifier, seed: int, guidance: float = 1.0) -> dict:
    test = load_bundled_mnist("test")
    x_test, y_test = test.as_tensor()
    codes_train, labels_train = models.codes_of_bundled("train")
    codes_test = models.encode(test.images)
    recon = models.decode_float(codes_test)
    mse = float(((recon - x_test.numpy()) ** 2).mean())
    pred_recon, _ = predict(classifier, torch.from_numpy(recon))
    pred_data, _ = predict(classifier, x_test)
    per_class = []
    t0 = time.perf_counter()
    for k in range(NUM_CLASSES):
        x_T = torch.randn((SAMPLES_PER_CLASS, 2), generator=generator_for(seed + 1000 + k))
        z = sample("ddim", models.eps_fn(schedule, k, guidance), schedule, x_T, steps=SAMPLE_STEPS,
                   clip_x0=False).numpy()
        pred, _ = predict(classifier, torch.from_numpy(models.decode_float(z)))
        per_class.append(float((pred == k).mean()))
    sample_s = time.perf_counter() - t0
    return {
        "test_recon_mse": round(mse, 5),
        "test_recon_rmse_01": round(float(np.sqrt(mse)) / 2, 5),
        "classifier_on_test_data": round(float((pred_data == y_test.numpy()).mean()), 4),
        "classifier_on_test_recon": round(float((pred_recon == y_test.numpy()).mean()), 4),
        "knn10_heldout_accuracy": round(knn_purity(codes_train, labels_train, codes_test,
                                                   test.labels), 4),
        "class_samples_read_as_class": [round(a, 3) for a in per_class],
        "class_samples_mean": round(float(np.mean(per_class)), 4),
        "class_samples_min": round(float(np.min(per_class)), 4),
        "class_sampling": f"DDIM eta 0, {SAMPLE_STEPS} steps, {SAMPLES_PER_CLASS} per class, "
                          f"guidance w = {guidance:g}",
        "class_sampling_seconds": round(sample_s, 1),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(resources_path(LATENT_FILE)))
    p.add_argument("--epochs", type=int, default=80)
    p.add_argument("--class-weight", type=float, default=0.15)
    p.add_argument("--loss", choices=("bce", "mse"), default="bce")
    p.add_argument("--ldm-steps", type=int, default=6000)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--hidden2", type=int, default=256)
    p.add_argument("--head", choices=("linear", "ring", "ring-learned"), default="ring",
                   help="the class head on the code: learned linear, a fixed ring of ten equal "
                        "wedges, or a ring with learned angles (core/latent.py)")
    p.add_argument("--guidance", type=float, default=2.0,
                   help="classifier-free guidance w of the evaluation's class samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-save", action="store_true", help="train and evaluate only")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train = load_bundled_mnist("train")
    x, y = train.as_tensor()
    ae = LatentAutoencoder(args.hidden, args.hidden2, head=args.head)
    last = None
    for last in iter_train_autoencoder(ae, x, y, epochs=args.epochs,
                                       class_weight=args.class_weight, seed=args.seed,
                                       loss=args.loss):
        print(f"epoch {last.epoch}/{last.epochs}: recon {last.recon:.4f}, class {last.class_loss:.3f}, "
              f"head acc {last.head_accuracy:.3f}, {last.elapsed_s:.0f} s", flush=True)
    ae_seconds = last.elapsed_s
    z = raw_codes(ae, x)
    mean = z.mean(0)
    scale = float(np.sqrt(((z - mean) ** 2).mean(0).mean()))
    codes = ((z - mean) / scale).astype(np.float32)
    schedule = NoiseSchedule.default()
    t0 = time.perf_counter()
    final = None
    for final in iter_toy_training(codes, schedule, steps=args.ldm_steps, seed=args.seed,
                                   labels=y.numpy(), num_classes=NUM_CLASSES,
                                   snapshot_every=args.ldm_steps):
        if final.step % 1000 == 0:
            print(f"latent diffusion step {final.step}: loss {final.loss:.4f}", flush=True)
    ldm_seconds = time.perf_counter() - t0
    info = {"seed": args.seed, "hidden": [args.hidden, args.hidden2], "threads": args.threads, "epochs": args.epochs,
            "class_weight": args.class_weight, "head": args.head, "loss": args.loss, "ldm_steps": args.ldm_steps,
            "train_images": len(train), "autoencoder_seconds": round(ae_seconds, 1),
            "latent_diffusion_seconds": round(ldm_seconds, 1),
            "autoencoder_train_recon_mse": round(last.recon, 5),
            "latent_diffusion_final_loss": round(final.loss, 4),
            "schedule": "default (NoiseSchedule.default())"}
    models = LatentModels(ae, final.model, mean, scale, info)
    classifier, _ = load_classifier()
    info.update(evaluate(models, schedule, classifier, args.seed, args.guidance))
    models.info = info
    print(json.dumps(info, indent=1))
    if not args.no_save:
        print("saved", save_latent(args.out, models))
    return 0


if __name__ == "__main__":
    sys.exit(main())
