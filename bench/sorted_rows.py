#!/usr/bin/python3
"""Auto's prediction on rows stored in an order that is not random: real corpora are sorted
by source, date or cluster, so a rank's first rows are no sample of the data. Clustered,
anisotropic rows (as LSA embeddings: a decaying spectrum, turned by a random orthogonal
matrix; cluster sizes heavy-tailed, some clusters tight) are stored twice, sorted by
cluster and shuffled; hipi auto solves each at cosine >= --tau, and the script prints the
method and prefix chosen, the plan's predicted compute against the measured one, and brute
force's compute on the same rows in the same run (the baseline auto must beat).

    source scripts/env.sh; source scripts/blas-env.sh
    bench/sorted_rows.py [--dir sorted-data] [--n 60000] [--d 256] [--ranks 2] [--tau 0.9]

Every auto run starts from an empty profile cache (HIPI_CACHE_DIR), so each calibrates.
Prints JSON lines, then a markdown table. Needs HIPI_BUILD (default build/).
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def make_rows(path, n, d, seed=1):
    rng = np.random.default_rng(seed)
    clusters = 300
    spectrum = (np.arange(d) + 1.0) ** -0.8
    turn, _ = np.linalg.qr(rng.standard_normal((d, d)))
    centres = (rng.standard_normal((clusters, d)) * spectrum) @ turn.T
    weights = rng.pareto(1.2, clusters) + 1
    labels = np.sort(rng.choice(clusters, n, p=weights / weights.sum()))
    spread = rng.uniform(0.05, 0.6, clusters)
    rows = centres[labels] + (rng.standard_normal((n, d)) * spectrum) @ turn.T * spread[labels, None]
    with h5py.File(path, "w") as f:
        f["sorted"] = rows.astype(np.float32)
        f["shuffled"] = rows[rng.permutation(n)].astype(np.float32)


def solve(args, dataset, method):
    hipi = os.path.join(os.environ.get("HIPI_BUILD", os.path.join(ROOT, "build")), "hipi")
    with tempfile.TemporaryDirectory() as cache:
        out, report = os.path.join(cache, "out.h5"), os.path.join(cache, "report.json")
        env = dict(os.environ, HIPI_CACHE_DIR=cache)
        start = time.monotonic()
        subprocess.run(["mpirun", "-np", str(args.ranks), "--oversubscribe", hipi, "-q", "solve", "--a",
                        f"{args.file}:/{dataset}", "--tau", str(args.tau), "--cosine", "--method", method,
                        "--out", out, "--report", report], env=env, check=True)
        wall = time.monotonic() - start
        r = json.load(open(report))
    plan = r.get("plan") or r["parameters"].get("plan") or {}
    compared = plan.get("predicted_vs_measured", {}).get("compute", {})
    return {"order": dataset, "method": r["method"], "wall_s": round(wall, 2),
            "compute_s": round(r["timings"]["compute"]["max"], 3),
            "predicted_compute_s": compared.get("predicted"), "detail": plan.get("chosen", {}).get("detail", ""),
            "pairs": r.get("pairs"), "kernels": r.get("kernels")}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default="sorted-data")
    p.add_argument("--n", type=int, default=60000)
    p.add_argument("--d", type=int, default=256)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--tau", type=float, default=0.9)
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    args.file = os.path.join(args.dir, f"clustered-{args.n}-{args.d}.h5")
    if not os.path.exists(args.file):
        make_rows(args.file, args.n, args.d)
    rows = []
    for order in ("sorted", "shuffled"):
        auto, brute = solve(args, order, "auto"), solve(args, order, "brute")
        auto["brute_compute_s"] = brute["compute_s"]
        assert auto["pairs"] == brute["pairs"], (auto["pairs"], brute["pairs"])
        print(json.dumps(auto), flush=True)
        rows.append(auto)
    print("\n| order | method | predicted compute s | measured compute s | brute compute s | wall s | plan |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['order']} | {r['method']} | {r['predicted_compute_s']:.2f} | {r['compute_s']:.2f} | "
              f"{r['brute_compute_s']:.2f} | {r['wall_s']:.1f} | {r['detail']} |")


if __name__ == "__main__":
    main()
