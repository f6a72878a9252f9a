"""The benchmark options behind the README's seed-dependent figures: bench/inpaint.py runs a
chosen subset of its configurations (extra seeds of one row), and bench/kl.py's
`spread_over_seeds` reports a figure over seeds with its spread."""
from __future__ import annotations

import math
import statistics

import pytest

from bench import inpaint as bench_inpaint
from bench import kl as bench_kl


def test_only_selects_configurations_by_name_in_table_order():
    assert bench_inpaint.select_configs(None) == bench_inpaint.CONFIGS
    (row,) = bench_inpaint.select_configs(["default"])
    assert row[1:] == ("repaint", "ddpm", 50, 10, 5)
    both = bench_inpaint.select_configs(["r = 5", "paste, DDIM"])
    assert [c[0] for c in both] == ["paste, DDIM 50", "repaint 50, j = 10, r = 5 (default)"]
    assert bench_inpaint.select_configs(["no such method"]) == []


def test_only_matching_nothing_is_refused_before_any_work(capsys):
    with pytest.raises(SystemExit) as e:
        bench_inpaint.main(["--only", "no such method"])
    assert e.value.code == 2
    assert "matches none" in capsys.readouterr().err


def test_stats_against_the_statistics_module():
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0]
    st = bench_kl.spread_stats(values)
    assert st["n"] == 6 and st["mean"] == pytest.approx(statistics.fmean(values))
    assert st["sd"] == pytest.approx(statistics.stdev(values))
    assert st["se"] == pytest.approx(statistics.stdev(values) / math.sqrt(6))
    assert (st["min"], st["max"]) == (1.0, 9.0)


def test_spread_over_seeds_on_a_small_run():
    r = bench_kl.spread_over_seeds(classes=[3], digits_per_class=1, chain_seeds=[0, 1],
                                   first_zero_seeds=[0], exp_seeds=range(60))
    e = r["exponential_t0"]
    # KL(Exp(λ) ‖ N(0, 1)) = ln λ − 1 + ½ ln 2π + 1/λ² at λ = 0.5, computed here independently
    assert e["exact"] == pytest.approx(math.log(0.5) - 1 + 0.5 * math.log(2 * math.pi) + 4.0)
    est = e["estimate"]
    assert est["n"] == 60 and abs(est["mean"] - e["exact"]) < 4 * est["se"]
    assert 0.15 < est["sd"] < 0.45  # the frame-to-frame spread of ½ mean(x²) at 784 pixels
    assert e["histogram"]["mean"] < e["exact"] - 0.5  # the fixed bins lose the tail beyond 5.17
    cr = r["chain_rmse"]
    assert [(c["class"], c["seed"]) for c in cr["chains"]] == [(3, 0), (3, 1)]
    assert cr["estimate"]["mean"] < cr["histogram"]["mean"]
    assert "| 3 |" in bench_kl.spread_markdown(r)


def test_pooled_share_is_the_binomial_share_of_all_trials():
    from bench.seed_spread import pooled_share

    r = pooled_share([186, 171], [200, 200])
    assert (r["successes"], r["trials"]) == (357, 400)
    assert r["share"] == pytest.approx(357 / 400)
    assert r["se"] == pytest.approx(math.sqrt(0.8925 * 0.1075 / 400))


def test_pool_reads_the_named_row_of_each_inpainting_run(tmp_path):
    import json

    from bench.seed_spread import pool_inpainting

    files = []
    for seed, acc in ((0, 0.93), (1, 0.855)):
        rows = [{"config": "whole digits (no mask)", "accuracy": 0.985},
                {"config": "repaint 50, j = 10, r = 5 (default)", "accuracy": acc}]
        f = tmp_path / f"s{seed}.json"
        f.write_text(json.dumps({"digits": 200, "seed": seed, "rows": rows}))
        files.append(str(f))
    r = pool_inpainting(files, "default")
    assert [(s["seed"], s["share"]) for s in r["per_seed"]] == [(0, 0.93), (1, 0.855)]
    assert r["pooled"]["successes"] == 186 + 171 and r["pooled"]["trials"] == 400
