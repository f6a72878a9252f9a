"""Print the markdown results table from `ddpm-desktop evaluate --json` outputs.

    python tools/results_table.py docs/evaluation/*.json
"""
import json
import sys


def main(paths: list[str]) -> int:
    rows, recon, floor = [], [], None
    for path in paths:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
        floor = report["data_floor"]
        rows += report["results"]
        recon += report["reconstruction"]
    order = {"ddpm": 0, "ddim": 1, "dpmpp": 2}
    rows.sort(key=lambda r: (order[r["sampler"]], r["nfe"]))
    matched = {r["matched_n"] for r in rows if r.get("matched_n")}
    mcol = f" FD on the first {matched.pop()} |" if len(matched) == 1 else ""
    print(f"| sampler | NFE | samples | accuracy | FD |{mcol} s per image |")
    print("|---|---|---|---|---|" + ("---|" if mcol else "") + "---|")
    names = {"ddpm": "DDPM", "ddim": "DDIM (η = 0)", "dpmpp": "DPM-Solver++(2M)"}
    for r in rows:
        m = ""
        if mcol:
            m = f" {r['fd_matched']:.2f} |" if r.get("fd_matched") is not None else f" {r['fd']:.2f} |"
        print(f"| {names[r['sampler']]} | {r['nfe']} | {r['n']} | {100 * r['accuracy']:.1f}% | "
              f"{r['fd']:.2f} |{m} {r['seconds'] / r['n']:.3f} |")
    print(f"\nData floor (held-out n = {floor['n']} vs training digits): FD {floor['fd']:.2f}")
    if recon:
        print("\n| t | label kept | label of x_t alone | MSE |")
        print("|---|---|---|---|")
        for p in sorted(recon, key=lambda p: p["t"]):
            print(f"| {p['t']} | {100 * p['label_agreement']:.1f}% | {100 * p['noised_agreement']:.1f}% | {p['mse']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
