#!/usr/bin/python3
"""hipi (auto and --method hash) against FAISS IndexBinaryMultiHash on planted +-1 data.

    bench/hash_vs_faiss.py [--n 131072] [--d 64 256 1024] [--rho 0.7 0.8 0.9] [--ranks 2]
                           [--dir bench-data] [--brute]

For each (d, rho): generates n x n rows with 64 planted pairs (hipi generate), then times,
in the same run, wall clock as a user sees it: hipi auto, hipi --method hash, optionally
hipi brute, and FAISS MultiHash at up to three settings (16-bit, 12-bit and 8-bit tables,
as many as the bits allow up to 16, 32 and 64; --bits; bench/faiss_baseline.py, 2 threads). Recall
is against hipi auto's answer, which is exact (checked against brute force with --brute,
and against the planted pairs). Prints JSON lines, then a markdown table.
Needs HIPI_BUILD (default build/) and scripts/env.sh's environment.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wall(cmd, env=None):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


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
    p.add_argument("--bits", type=int, nargs="+", default=[16, 12, 8],
                   help="FAISS table widths (8-bit tables take minutes at n = 131072)")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    hipi = os.path.join(os.environ.get("HIPI_BUILD", os.path.join(ROOT, "build")), "hipi")
    mpirun = ["mpirun", "-np", str(a.ranks), "--oversubscribe", hipi, "-q"]
    rows = []
    for d in a.d:
        for rho in a.rho:
            data = os.path.join(a.dir, f"mih-{a.n}-{d}-{rho}.h5")
            if not os.path.exists(data):
                subprocess.run(mpirun + ["generate", "--out", data, "--n", str(a.n), "--d", str(d), "--k", "64",
                                         "--rho", str(rho), "--seed", "11"], check=True)
            solve = mpirun + ["solve", "--a", data, "--b", data + ":/B", "--rho", str(rho)]
            out = lambda name: os.path.join(a.dir, f"mih-{d}-{rho}-{name}.h5")
            row = {"d": d, "rho": rho}
            row["auto_s"] = wall(solve + ["--out", out("auto"), "--report", out("auto") + ".json"])
            row["auto_method"] = json.load(open(out("auto") + ".json"))["method"]
            row["hash_s"] = wall(solve + ["--method", "hash", "--out", out("hash")])
            exact = pairs_of(out("auto"))
            with h5py.File(data, "r") as f:
                truth = set(map(tuple, f["truth_pairs"][...].tolist()))
            row["pairs"] = len(exact)
            row["exact_checks"] = [pairs_of(out("hash")) == exact, truth <= exact]
            if a.brute:
                row["brute_s"] = wall(solve + ["--method", "brute", "--out", out("brute")])
                row["exact_checks"].append(pairs_of(out("brute")) == exact)
            for bits, most in ((b, {16: 16, 12: 32, 8: 64}.get(b, 16)) for b in a.bits):
                nhash = min(most, d // bits)
                if nhash < 1:
                    continue
                npy = os.path.join(a.dir, "faiss.npy")
                seconds = wall(["/usr/bin/python3", os.path.join(ROOT, "bench", "faiss_baseline.py"), "--data", data,
                                "--rho", str(rho), "--method", "multihash", "--nhash", str(nhash), "--bits", str(bits),
                                "--threads", str(a.ranks), "--out", npy])
                found = set(map(tuple, np.load(npy).tolist()))
                row[f"faiss_{nhash}x{bits}"] = {"s": seconds, "recall": len(found & exact) / max(1, len(exact))}
            print(json.dumps(row), flush=True)
            rows.append(row)
    print("\n| d | rho | pairs | hipi auto (s, method) | hipi hash (s) | FAISS MultiHash: s (recall), per setting | best full-recall FAISS / hipi auto |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        faiss_cells = [(k[6:], v) for k, v in r.items() if k.startswith("faiss_")]
        full = [v["s"] for _, v in faiss_cells if v["recall"] == 1.0]
        ratio = f"{min(full) / r['auto_s']:.2f}" if full else "no full-recall setting"
        cells = ", ".join(f"{k} {v['s']:.2f} ({v['recall']:.3f})" for k, v in faiss_cells)
        ok = "" if all(r["exact_checks"]) else " NOT EXACT"
        print(f"| {r['d']} | {r['rho']} | {r['pairs']} | {r['auto_s']:.2f} ({r['auto_method']}){ok} | {r['hash_s']:.2f} | {cells} | {ratio} |")
    return 0 if all(all(r["exact_checks"]) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
