#!/usr/bin/python3
"""hipi (auto and --method hash) against FAISS IndexBinaryMultiHash on planted +-1 data.

    bench/hash_vs_faiss.py [--n 131072] [--d 64 256 1024] [--rho 0.7 0.8 0.9] [--ranks 2]
                           [--dir bench-data] [--brute] [--brute-max-d D] [--flat-max-d D] [--timeout S]
                           [--clustered-only | --clustered]

For each (d, rho): generates n x n rows with 64 planted pairs (hipi generate), then times,
in the same run, wall clock as a user sees it: hipi auto, hipi --method hash, optionally
hipi brute, FAISS IndexBinaryFlat (--flat-max-d) and FAISS MultiHash at up to three settings (16-bit, 12-bit and 8-bit tables,
as many as the bits allow up to 16, 32 and 64; --bits; bench/faiss_baseline.py, 2 threads). Recall
is against hipi auto's answer, which is exact (checked against brute force with --brute,
and against the planted pairs). A run over --timeout seconds (hipi hash, FAISS) is
stopped and reported as such. --clustered adds a two-sided near-duplicate instance
(bench/make_clustered.py: n rows, d 256, 48 clusters of 2 to 500 rows, flip 0.025) at
rho 0.8, whose truth is brute force's answer. Prints JSON lines, then a markdown table.
Needs HIPI_BUILD (default build/) and scripts/env.sh's environment.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wall(cmd, timeout=None):
    """Seconds the command took, or None when it ran past `timeout` and was stopped."""
    start = time.perf_counter()
    # A session of its own, so that a stopped mpirun takes its ranks with it.
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd, stderr=err)
    return time.perf_counter() - start


def seconds_cell(s, timeout):
    return f"> {timeout:.0f} (stopped)" if s is None else f"{s:.2f}"


def recall_cell(recall):
    """Four decimals, never rounding a miss up to 1."""
    return "1" if recall == 1.0 else f"{min(recall, 0.9999):.4f}"


def pairs_of(path):
    with h5py.File(path, "r") as f:
        return set(map(tuple, f["pairs"][...].tolist()))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=131072)
    p.add_argument("--d", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--rho", type=float, nargs="+", default=[0.7, 0.8, 0.9])
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--dir", default="bench-data")
    p.add_argument("--brute", action="store_true")
    p.add_argument("--brute-max-d", type=int, default=1 << 30, help="run brute force (--brute) only up to this d")
    p.add_argument("--flat-max-d", type=int, default=0,
                   help="also time FAISS IndexBinaryFlat (exact range search) up to this d, stopped at --timeout")
    p.add_argument("--timeout", type=float, default=300, help="seconds before hipi hash or FAISS is stopped")
    p.add_argument("--clustered", action="store_true", help="add the clustered near-duplicate instance")
    p.add_argument("--clustered-only", action="store_true", help="only the clustered instance")
    p.add_argument("--bits", type=int, nargs="+", default=[16, 12, 8],
                   help="FAISS table widths (8-bit tables take minutes at n = 131072)")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    hipi = os.path.join(os.environ.get("HIPI_BUILD", os.path.join(ROOT, "build")), "hipi")
    mpirun = ["mpirun", "-np", str(a.ranks), "--oversubscribe", hipi, "-q"]
    rows = []
    cells = [] if a.clustered_only else [(d, rho, False) for d in a.d for rho in a.rho]
    if a.clustered or a.clustered_only:
        cells.append((256, 0.8, True))
    for d, rho, clustered in cells:
        name = f"clustered-{a.n}-{d}" if clustered else f"mih-{a.n}-{d}-{rho}"
        data = os.path.join(a.dir, name + ".h5")
        if not os.path.exists(data):
            if clustered:
                subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "make_clustered.py"), "--out", data,
                                "--n", str(a.n), "--d", str(d), "--clusters", "48", "--max-size", "500",
                                "--flip", "0.025", "--seed", "1"], check=True)
            else:
                subprocess.run(mpirun + ["generate", "--out", data, "--n", str(a.n), "--d", str(d), "--k", "64",
                                         "--rho", str(rho), "--seed", "11"], check=True)
        solve = mpirun + ["solve", "--a", data, "--b", data + ":/B", "--rho", str(rho)]
        out = lambda method: os.path.join(a.dir, f"{name}-{rho}-{method}.h5")
        row = {"d": d, "rho": rho, "instance": "clustered" if clustered else "planted"}
        row["auto_s"] = wall(solve + ["--out", out("auto"), "--report", out("auto") + ".json"])
        row["auto_method"] = json.load(open(out("auto") + ".json"))["method"]
        row["hash_s"] = wall(solve + ["--method", "hash", "--out", out("hash")], a.timeout)
        exact = pairs_of(out("auto"))
        row["pairs"] = len(exact)
        row["exact_checks"] = []
        if row["hash_s"] is not None:
            row["exact_checks"].append(pairs_of(out("hash")) == exact)
        if not clustered:
            with h5py.File(data, "r") as f:
                truth = set(map(tuple, f["truth_pairs"][...].tolist()))
            row["exact_checks"].append(truth <= exact)
        if clustered or (a.brute and d <= a.brute_max_d):
            row["brute_s"] = wall(solve + ["--method", "brute", "--out", out("brute")])
            row["exact_checks"].append(pairs_of(out("brute")) == exact)
        if d <= a.flat_max_d:
            npy = os.path.join(a.dir, "faiss.npy")
            seconds = wall(["/usr/bin/python3", os.path.join(ROOT, "bench", "faiss_baseline.py"), "--data", data,
                            "--rho", str(rho), "--method", "flat", "--threads", str(a.ranks), "--out", npy], a.timeout)
            row["flat_s"] = seconds
            if seconds is not None:
                row["exact_checks"].append(set(map(tuple, np.load(npy).tolist())) == exact)
        for bits, most in ((b, {16: 16, 12: 32, 8: 64}.get(b, 16)) for b in a.bits):
            nhash = min(most, d // bits)
            if nhash < 1:
                continue
            npy = os.path.join(a.dir, "faiss.npy")
            if os.path.exists(npy):
                os.remove(npy)
            seconds = wall(["/usr/bin/python3", os.path.join(ROOT, "bench", "faiss_baseline.py"), "--data", data,
                            "--rho", str(rho), "--method", "multihash", "--nhash", str(nhash), "--bits", str(bits),
                            "--threads", str(a.ranks), "--out", npy], a.timeout)
            recall = None
            if seconds is not None:
                found = set(map(tuple, np.load(npy).tolist()))
                recall = len(found & exact) / max(1, len(exact))
            row[f"faiss_{nhash}x{bits}"] = {"s": seconds, "recall": recall}
        print(json.dumps(row), flush=True)
        rows.append(row)
    print("\n| instance | d | rho | pairs | hipi auto (s, method) | hipi hash (s) | hipi brute (s) | FAISS Flat (s) | FAISS MultiHash: s (recall), per setting | fastest full-recall FAISS / hipi auto |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        faiss_cells = [(k[6:], v) for k, v in r.items() if k.startswith("faiss_")]
        full = [v["s"] for _, v in faiss_cells if v["recall"] == 1.0]
        ratio = f"{min(full) / r['auto_s']:.2f}" if full else "no full-recall setting"
        cells = ", ".join(f"{k} {seconds_cell(v['s'], a.timeout)}" + ("" if v["recall"] is None else f" ({recall_cell(v['recall'])})")
                          for k, v in faiss_cells)
        ok = "" if all(r["exact_checks"]) else " NOT EXACT"
        brute = seconds_cell(r["brute_s"], a.timeout) if "brute_s" in r else "not run"
        flat = seconds_cell(r["flat_s"], a.timeout) if "flat_s" in r else "not run"
        print(f"| {r['instance']} | {r['d']} | {r['rho']} | {r['pairs']} | {r['auto_s']:.2f} ({r['auto_method']}){ok} | "
              f"{seconds_cell(r['hash_s'], a.timeout)} | {brute} | {flat} | {cells} | {ratio} |")
    return 0 if all(all(r["exact_checks"]) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
