#!/usr/bin/python3
"""hipi against the baselines a user would otherwise run, on the same HDF5 input, in one go.

    bench/compare.py --config config/bench-compare.toml [--only NAME] [--dir DATA] [--json OUT]
    bench/compare.py --config config/bench-scaling.toml --plot scaling.png

For each instance of the config (generated with `hipi generate` when its file is missing)
it runs, as listed in the instance's `methods`:
  auto, brute, sketch    `mpirun -np R hipi solve --method ...` (sketch: the instance's
                         hand-tuned `sketch_args`)
  psgemm                 the ScaLAPACK user's brute force: C = A B^T with PSGEMM, panel
                         by panel, then a threshold (hipi's linear sketch with groups of 1
                         and the detection threshold at theta: no compression)
  numpy                  real data: the ten lines of numpy a user would write, blocked float32
                         W @ X.T >= tau on all cores (bench/numpy_baseline.py), reading included
  faiss-flat             FAISS IndexBinaryFlat (binary) or IndexFlatIP (real) range search
  faiss-multihash        FAISS IndexBinaryMultiHash, each of `multihash` (tables, bits),
                         the fastest at full recall reported
and prints one table: time, ratio to hipi brute and to hipi auto, recall against hipi
brute's exact answer, GEMM GFLOP/s, pairs/s per core (n_A n_B / time / cores), peak RSS.
Times are the solvers' own (hipi's stages, FAISS's read+index+search); wall includes
process start-up. Scaling configs repeat an instance over a list of n, d or ranks and fit
log-log slopes of time against n; --plot draws time against n per method (matplotlib).
"""
import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HIPI = Path(os.environ.get("HIPI_BUILD", ROOT / "build")) / "hipi"
MPIRUN = ["mpirun", "--oversubscribe"]


def sh(cmd, log):
    """Runs cmd, returns (wall seconds, stdout); stderr and stdout go to the log."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    log.write("$ " + " ".join(map(str, cmd)) + "\n" + r.stdout + r.stderr)
    log.flush()
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({r.returncode}): {r.stderr[-2000:]}")
    return wall, r.stdout


def generate(inst, path, ranks, log):
    if path.exists():
        return
    cmd = MPIRUN + ["-np", str(ranks), HIPI, "generate", "--out", path, "--n", str(inst["n"]), "--d", str(inst["d"]),
                    "--k", str(inst.get("k", 32)), "--seed", str(inst.get("seed", 1))]
    cmd += ["--type", "real", "--tau", str(inst["tau"])] if "tau" in inst else ["--rho", str(inst["rho"])]
    sh(cmd, log)


def read_pairs(path):
    with h5py.File(path, "r") as f:
        return {tuple(p) for p in f["/pairs"][...].tolist()}


def hipi_run(name, inst, path, ranks, workdir, log, extra):
    out, report = workdir / f"{name}.h5", workdir / f"{name}.json"
    threshold = ["--tau", str(inst["tau"])] if "tau" in inst else ["--rho", str(inst["rho"])]
    cmd = MPIRUN + ["-np", str(ranks), HIPI, "solve", "--a", f"{path}:/A", "--b", f"{path}:/B", *threshold,
                    "--out", out, "--report", report, "--seed", "1", *extra]
    wall, _ = sh(cmd, log)
    r = json.loads(report.read_text())
    seconds = sum(t["max"] for t in r["timings"].values())
    gflops = None
    for rep in r.get("repetitions", []):
        if "gemm_gflops" in rep:
            gflops = rep["gemm_gflops"]
    chosen = r["method"]
    if chosen == "sketch":
        p = r["parameters"]
        chosen += f" {p.get('sketch', 'linear')} {p['group_size_a']}x{p['group_size_b']}"
    return {"method": name, "seconds": seconds, "wall": wall, "pairs_set": read_pairs(out), "gemm_gflops": gflops,
            "peak_rss_mib": r["peak_rss_mib"]["max"], "detail": chosen, "blas": r["kernels"]["blas"],
            "kernel": r["kernels"]["exact"]}


def faiss_run(name, inst, path, ranks, workdir, log, extra):
    out = workdir / f"{name}.npy"
    threshold = ["--tau", str(inst["tau"])] if "tau" in inst else ["--rho", str(inst["rho"])]
    cmd = [sys.executable, ROOT / "bench" / "faiss_baseline.py", "--data", path, *threshold, "--out", out,
           "--threads", str(ranks), *extra]
    wall, stdout = sh(cmd, log)
    r = json.loads(stdout.strip().splitlines()[-1])
    return {"method": name, "seconds": r["seconds"], "wall": wall, "peak_rss_mib": r["peak_rss_mib"],
            "pairs_set": {tuple(p) for p in np.load(out).tolist()}, "gemm_gflops": None, "detail": r["method"]}


def numpy_run(name, inst, path, ranks, workdir, log):
    out = workdir / f"{name}.npy"
    cmd = [sys.executable, ROOT / "bench" / "numpy_baseline.py", "--data", path, "--tau", str(inst["tau"]),
           "--out", out, "--threads", str(ranks)]
    wall, stdout = sh(cmd, log)
    r = json.loads(stdout.strip().splitlines()[-1])
    return {"method": name, "seconds": r["seconds"], "wall": wall, "peak_rss_mib": r["peak_rss_mib"],
            "pairs_set": {tuple(p) for p in np.load(out).tolist()}, "gemm_gflops": None, "detail": r["method"]}


def sgemm_peak(ranks, log):
    """Single-core SGEMM peak and hipi's p?gemm per rank, from bench_gemm, this run."""
    _, out = sh(MPIRUN + ["-np", str(ranks), HIPI.parent / "bench" / "bench_gemm", "--seconds", "1"], log)
    return json.loads(out.strip().splitlines()[-1])


def run_instance(inst, data_dir, log, ranks_override=None, reuse=False):
    """Runs (or with reuse, reloads the saved figures of) one instance."""
    ranks = ranks_override or inst.get("ranks", 2)
    saved = data_dir / "runs" / inst["name"] / "result.json"
    if reuse and saved.exists():
        return json.loads(saved.read_text())
    path = (data_dir / f"{inst['file']}.h5") if "file" in inst else data_dir / (
        f"{inst['name']}.h5" if "n" not in inst else
        f"n{inst['n']}-d{inst['d']}-{'tau' + str(inst['tau']) if 'tau' in inst else 'rho' + str(inst['rho'])}"
        f"-k{inst.get('k', 32)}-s{inst.get('seed', 1)}.h5")
    generate(inst, path, 2, log)
    with h5py.File(path, "r") as f:
        n_a, d = f["/A"].shape
        n_b = f["/B"].shape[0]
    workdir = data_dir / "runs" / inst["name"]
    workdir.mkdir(parents=True, exist_ok=True)
    theta = inst["tau"] if "tau" in inst else math.ceil(inst["rho"] * d - 1e-9)
    results = []
    # auto plans from a machine profile measured once per (ranks, d), as a user would keep
    # one: the calibration (about a second) is not part of each solve.
    profile = data_dir / f"profile-r{ranks}-d{d}.toml"
    if not profile.exists():
        sh(MPIRUN + ["-np", str(ranks), HIPI, "calibrate", "--d", str(d), "--out", profile], log)
    for method in inst["methods"]:
        print(f"  {inst['name']}: {method} ...", file=sys.stderr, flush=True)
        if method in ("auto", "brute"):
            extra = ["--method", method] + (["--expect-k", str(inst["k"])] if method == "auto" and inst.get("expect_k") else [])
            if method == "auto":
                extra += ["--profile", str(profile)]
            results.append(hipi_run(method, inst, path, ranks, workdir, log, extra))
        elif method == "sketch":
            results.append(hipi_run(method, inst, path, ranks, workdir, log, ["--method", "sketch", *inst["sketch_args"]]))
        elif method == "psgemm":
            args = ["--method", "sketch", "--sketch", "linear", "--group-size", "1", "--reps", "1",
                    "--detect-threshold", str(theta)]
            results.append(hipi_run(method, inst, path, ranks, workdir, log, args))
        elif method == "numpy":
            results.append(numpy_run(method, inst, path, ranks, workdir, log))
        elif method == "faiss-flat":
            results.append(faiss_run(method, inst, path, ranks, workdir, log,
                                     ["--method", "flatip" if "tau" in inst else "flat"]))
        elif method == "faiss-multihash":
            best = None
            for tables, bits in inst.get("multihash", [[160, 14]]):
                if tables * bits > d:  # FAISS samples disjoint bits: tables * bits <= d
                    continue
                r = faiss_run(f"faiss-multihash-{tables}x{bits}", inst, path, ranks, workdir, log,
                              ["--method", "multihash", "--nhash", str(tables), "--bits", str(bits)])
                r["method"] = "faiss-multihash"
                results.append(dict(r, method=f"  (multihash {tables}x{bits})"))
                if best is None or (len(r["pairs_set"]), -r["seconds"]) > (len(best["pairs_set"]), -best["seconds"]):
                    best = r
            if best is not None:
                best["detail"] += " (fastest at the best recall of those tried)"
                results.append(best)
        else:
            raise SystemExit(f"unknown method {method}")
    truth = next((r["pairs_set"] for r in results if r["method"] == "brute"), None)
    brute = next((r["seconds"] for r in results if r["method"] == "brute"), None)
    auto = next((r["seconds"] for r in results if r["method"] == "auto"), None)
    peak = sgemm_peak(ranks, log) if any(r.get("gemm_gflops") for r in results) else None
    for r in results:
        r["gemm_of_peak"] = r["gemm_gflops"] / ranks / peak["sgemm_peak_gflops"] if peak and r["gemm_gflops"] else None
        r["recall"] = (len(r["pairs_set"] & truth) / len(truth) if truth else 1.0) if truth is not None else None
        r["false"] = len(r["pairs_set"] - truth) if truth is not None else None
        r["pairs"] = len(r["pairs_set"])
        r["vs_brute"] = brute / r["seconds"] if brute else None
        r["vs_auto"] = r["seconds"] / auto if auto else None
        r["pairs_per_s_core"] = n_a * n_b / r["seconds"] / ranks
        del r["pairs_set"]
    res = {"name": inst["name"], "n_a": n_a, "n_b": n_b, "d": d, "theta": theta, "ranks": ranks, "results": results,
           "sgemm": peak}
    saved.write_text(json.dumps(res, indent=1))
    return res


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def print_table(res):
    print(f"\n## {res['name']}: {res['n_a']} x {res['n_b']}, d = {res['d']}, theta = {res['theta']}, "
          f"{res['ranks']} ranks / threads\n")
    print("| method | time (s) | wall (s) | brute / this | this / auto | recall | pairs | GEMM GFLOP/s (per rank, % of "
          "SGEMM peak) | pairs/s per core | peak RSS (MiB) | what ran |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in res["results"]:
        gemm = "-" if r["gemm_gflops"] is None else (
            f"{r['gemm_gflops']:.0f} ({r['gemm_gflops'] / res['ranks']:.0f}, "
            f"{fmt(None if r['gemm_of_peak'] is None else 100 * r['gemm_of_peak'], '.0f')}%)")
        print(f"| {r['method']} | {r['seconds']:.3f} | {r['wall']:.2f} | {fmt(r['vs_brute'], '.2f')}x | "
              f"{fmt(r['vs_auto'], '.1f')}x | {fmt(r['recall'], '.3f')} | {r['pairs']} | {gemm} | "
              f"{r['pairs_per_s_core']:.3g} | {r['peak_rss_mib']:.0f} | {r['detail']} |")
    blas = {r.get("blas") for r in res["results"] if r.get("blas")}
    kern = {r.get("kernel") for r in res["results"] if r.get("kernel")}
    print(f"\nhipi exact kernels: {', '.join(kern)}; BLAS: {', '.join(blas)}")
    if res.get("sgemm"):
        print(f"single-core SGEMM peak {res['sgemm']['sgemm_peak_gflops']:.0f} GFLOP/s, "
              f"{res['sgemm']['sgemm_all_cores_gflops']:.0f} per core with all cores busy (bench_gemm, this run)")


def slope(xs, ys):
    lx, ly = np.log(xs), np.log(ys)
    return float(np.polyfit(lx, ly, 1)[0])


def run_scaling(cfg, data_dir, log, plot, reuse):
    base = cfg["scaling"]
    series = {}
    all_results = []
    for axis in ("n", "d", "ranks"):
        if axis not in base:
            continue
        for v in base[axis]:
            inst = {k: v2 for k, v2 in base.items() if k not in ("n", "d", "ranks")}
            inst["n"] = v if axis == "n" else base.get("fixed_n", 16384)
            inst["d"] = v if axis == "d" else base.get("fixed_d", 4096)
            ranks = v if axis == "ranks" else base.get("fixed_ranks", 2)
            inst["name"] = f"scaling-{axis}-{v}"
            methods = inst["methods"]
            limit = base.get("faiss_flat_max_n", 1 << 62)
            inst["methods"] = [m for m in methods if not (m == "faiss-flat" and inst["n"] > limit)]
            res = run_instance(inst, data_dir, log, ranks, reuse)
            print_table(res)
            all_results.append(dict(res, axis=axis, value=v))
            for r in res["results"]:
                if not r["method"].startswith(" "):
                    series.setdefault((axis, r["method"]), []).append((v, r["seconds"]))
    print("\n## Fitted log-log slopes (time ~ x^slope)\n")
    print("| axis | method | points | slope |")
    print("| --- | --- | ---: | ---: |")
    for (axis, method), pts in sorted(series.items()):
        if len(pts) >= 2:
            print(f"| {axis} | {method} | {len(pts)} | {slope([p[0] for p in pts], [p[1] for p in pts]):.2f} |")
    if plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 5))
        for (axis, method), pts in sorted(series.items()):
            if axis == "n":
                ax.loglog([p[0] for p in pts], [p[1] for p in pts], "o-", label=method, base=2)
        ax.set_xlabel("n (rows of A = rows of B)")
        ax.set_ylabel("time (s)")
        ax.set_title(f"d = {base.get('fixed_d', 4096)}, rho = {base.get('rho')}, {base.get('fixed_ranks', 2)} ranks "
                     "(2-core machine)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(plot, dpi=120)
        print(f"\nplot: {plot}")
    return all_results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True)
    p.add_argument("--dir", default="bench-data", help="where instances and outputs go (not in the repository)")
    p.add_argument("--only", help="run only the instance with this name")
    p.add_argument("--json", help="write every figure as JSON here")
    p.add_argument("--plot", help="scaling configs: write the time-against-n plot (PNG) here")
    p.add_argument("--reuse", action="store_true",
                   help="reload the saved figures of instances already run into --dir instead of running them again")
    a = p.parse_args()
    cfg = tomllib.loads(Path(a.config).read_text())
    data_dir = Path(a.dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"hipi {HIPI}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}; "
          f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M')}")
    with open(data_dir / "compare.log", "a") as log:
        if "scaling" in cfg:
            out = run_scaling(cfg, data_dir, log, a.plot, a.reuse)
        else:
            out = []
            for inst in cfg["instance"]:
                if a.only and inst["name"] != a.only:
                    continue
                res = run_instance(inst, data_dir, log, reuse=a.reuse)
                print_table(res)
                out.append(res)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
