#!/usr/bin/python3
"""Recall and speed on near-duplicate clusters (issue: exact recall on clustered data).

    source scripts/env.sh; source scripts/blas-env.sh
    bench/clustered_recall.py [--seeds 20] [--n 32768] [--ranks 2] [--dir DATA] [--only NAME]

For each instance below (bench/make_clustered.py: clusters of 2 to 500 near-duplicate
rows, optionally a block of identical rows, self-join or A x B) it runs hipi brute force
once (the truth, and the time to beat), then for each solver seed 1..S `hipi solve
--method auto` (with a machine profile calibrated once at the instance's d) and `--method
sketch` (linear 2x2 groups, z = 3, recall control up to 8 repetitions: a reasonable hand
choice; the defaults, 4x4 and z = 4, make every entry a candidate at d = 256 and take 10x
brute force's time). For every run it checks:
  - every heavy pair is found (pairs equal to brute force's);
  - the estimate of what the repetitions missed, missing_before_completion_estimate, is
    not below the truth (pairs found only by completion plus any still missing);
and it prints per instance and method: runs exact, the most pairs the repetitions alone
missed, the estimate's worst margin, median wall time and its ratio to brute force's.
Wall times are as a user sees them (mpirun start-up, reading and planning included).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HIPI = Path(os.environ.get("HIPI_BUILD", ROOT / "build")) / "hipi"
MPIRUN = ["mpirun", "--oversubscribe"]

# name, d, rho, flip (members' inner product about d (1 - 2 flip)^2), identical rows, self-join
INSTANCES = [
    ("d256-rho0.8-self", 256, 0.8, 0.02, 0, True),
    ("d256-rho0.9-AxB", 256, 0.9, 0.01, 200, False),
    ("d1024-rho0.7-self", 1024, 0.7, 0.04, 200, True),
    ("d1024-rho0.8-AxB", 1024, 0.8, 0.02, 0, False),
    ("d4096-rho0.6-self", 4096, 0.6, 0.06, 0, True),
]


def run(cmd, log):
    t0 = time.perf_counter()
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    log.write("$ " + " ".join(map(str, cmd)) + "\n" + r.stdout + r.stderr)
    log.flush()
    if r.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({r.returncode}): {r.stderr[-2000:]}")
    return wall


def read(path):
    with h5py.File(path, "r") as f:
        pairs = f["pairs"][...]
        params = json.loads(f.attrs["parameters"])
    return {tuple(p) for p in pairs.tolist()}, params


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--n", type=int, default=32768)
    ap.add_argument("--clusters", type=int, default=24)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--dir", default="clustered-data")
    ap.add_argument("--only")
    a = ap.parse_args()
    data = Path(a.dir)
    data.mkdir(exist_ok=True)
    log = open(data / "clustered_recall.log", "a")
    mpi = MPIRUN + ["-np", str(a.ranks), HIPI]
    rows = []
    for name, d, rho, flip, identical, self_join in INSTANCES:
        if a.only and a.only != name:
            continue
        path = data / f"{name}.h5"
        if not path.exists():
            cmd = [sys.executable, ROOT / "bench/make_clustered.py", "--out", path, "--n", a.n, "--d", d,
                   "--clusters", a.clusters, "--max-size", 500, "--flip", flip, "--identical", identical, "--seed", 1]
            run(cmd + (["--self-join"] if self_join else []), log)
        profile = data / f"profile-d{d}.toml"
        if not profile.exists():
            run(mpi + ["calibrate", "--d", d, "--out", profile], log)
        inputs = ["--a", f"{path}:/A"] + ([] if self_join else ["--b", f"{path}:/B"]) + ["--rho", rho]
        brute_out = data / "brute.h5"
        brute_wall = min(run(mpi + ["solve"] + inputs + ["--method", "brute", "--out", brute_out], log) for _ in range(2))
        truth, _ = read(brute_out)
        for method, extra in [("auto", ["--profile", profile]), ("sketch", ["--group-size", 2, "--z", 3, "--max-reps", 8])]:
            exact, walls, worst_missed, worst_margin, chosen = 0, [], 0, float("inf"), {}
            for seed in range(1, a.seeds + 1):
                out = data / f"{method}.h5"
                walls.append(run(mpi + ["solve"] + inputs + ["--method", method, "--seed", seed, "--out", out] + extra,
                                 log))
                got, p = read(out)
                exact += got == truth
                kind = p.get("sketch", "brute") + (f" {p['group_size_a']}x{p['group_size_b']}" if "sketch" in p else "")
                chosen[kind] = chosen.get(kind, 0) + 1
                if "found_by_completion" not in p:
                    continue  # brute force: nothing estimated
                missed = p["found_by_completion"] + len(truth - got)  # what the repetitions alone missed
                worst_missed = max(worst_missed, missed)
                est = p["missing_before_completion_estimate"]
                margin = float("inf") if est is None else est - missed  # None: said to be unbounded
                worst_margin = min(worst_margin, margin)
            med = statistics.median(walls)
            rows.append((name, len(truth), method, f"{exact}/{a.seeds}", worst_missed,
                         "unbounded" if worst_margin == float("inf") and worst_missed == 0 and method == "sketch"
                         else f"{worst_margin:.2f}", f"{med:.2f}", f"{brute_wall:.2f}", f"{med / brute_wall:.2f}",
                         ", ".join(f"{k} x{v}" for k, v in chosen.items())))
            print(" | ".join(map(str, rows[-1])), flush=True)
    head = ("instance", "heavy pairs", "method", "exact runs", "most missed by repetitions",
            "estimate - truth (worst)", "median wall s", "brute wall s", "ratio", "plans")
    print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(map(str, r)) + " |")


if __name__ == "__main__":
    main()
