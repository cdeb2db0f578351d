#!/usr/bin/python3
"""Exact top-k (k nearest neighbours by inner product, cosine or Hamming): hipi solve --top-k
against FAISS, numpy and scikit-learn in one run, each checked against a float64 truth.

    source scripts/env.sh; source scripts/blas-env.sh
    /usr/bin/python3 bench/top_k.py --dir /tmp/topk-bench [--workload lsa gauss binary] [--k 1 10 100]
        [--rows N] [--dim D] [--ranks 2] [--brute] [--skip sklearn,numpy] [--json OUT] [--quick]

Workloads (data made once into DIR, generated, never committed):
  lsa     real-text LSA embeddings (bench/embeddings.py's builder: paragraphs of the text
          Debian ships, TF-IDF, truncated SVD), 95000 x 256 unit float32 rows, self-join,
          cosine (hipi --cosine); DIR/embeddings-N-D.h5:/E, the file embeddings.py makes.
  gauss   standard Gaussian float32 rows, A 32768 x 256 against B 32768 x 256 (seeded),
          plain inner product: maximum inner product search.
  binary  65536 x 256 bits, self-join, Hamming top-k (score <a,b> = d - 2 hamming of the
          +-1 rows): SimHash codes of clustered data. 1000 clusters of log-normal sizes
          with centres N(0, I_64) in 64 dimensions, members centre + s N(0, I_64) with a
          spread s per cluster uniform in [0.2, 0.8] (member pairs at cosine 1/(1+s^2),
          0.6-0.96), the bits the signs of d Gaussian random projections (SimHash), packed
          numpy.packbits(A < 0, axis=1) with attribute bits = d, as hipi reads them. At
          65536 rows a row's nearest neighbour is a median 35 bits away (10%-90%: 18-52).
--quick: lsa 8000 rows, gauss 4096 x 4096, binary 8192 (a smoke test in under a minute
once the data exist). --rows N sets every chosen workload's rows (gauss: N x N).

Each tool runs as a user would run it and is timed by wall clock around its process:
start-up, imports, reading the HDF5 input, the search and writing the answer. hipi:
mpirun -np RANKS build/hipi solve --top-k K (auto; --brute adds --method brute;
--methods chooses), with the environment as it is (scripts/blas-env.sh: one BLAS thread
a rank). The others run as child processes of this script with RANKS threads
(OMP/OPENBLAS_NUM_THREADS, faiss.omp_set_num_threads):
  faiss    IndexFlatIP.search (self-join: k + 1, the row itself dropped, or the last
           neighbour when the row is not among them); binary: IndexBinaryFlat.search.
  numpy    blocked float32 GEMM (binary: unpacked +-1 float32, exact integers) and
           argpartition per block of --np-block rows.
  sklearn  NearestNeighbors(metric="cosine", algorithm="brute").kneighbors() (lsa only;
           its own self-exclusion).
A tool that fails or passes --timeout is reported with its error; the others go on.
Measure on a quiet machine: under other load, libgomp's spin-waiting makes FAISS (binary
above all) several times slower with 2 threads; --omp-passive sets OMP_WAIT_POLICY=PASSIVE
for the baselines to see how much.

The truth, per row: the k best j by score computed in float64 from the stored float32
values (cosine: dot / (|a| |b|); binary: exact integers), ties broken by the smaller j,
j = i excluded in a self-join. It is computed blockwise: a float64 GEMM, every j within a
rigorous bound of float64 GEMM error of the k-th score kept, and scores closer to each
other than that bound (equal rows, near-ties) recomputed by a compensated exact dot product,
so that equal rows tie exactly and the order is canonical; for the largest k once (the
smaller k are its prefixes), untimed, and cached in DIR (truth-TAG-kK.npz).
Reported per tool: rows whose index set differs from the truth, and of those how many are
ties within float32 rounding (every j in the symmetric difference has a truth score within
--tie-rtol (1e-6) relative of the truth's k-th score; binary: exactly equal) and how many
are real differences. hipi must differ on no row (exit status 1 and a !! line if it
does); its order within rows and its scores are checked too.
"""
import argparse
import glob
import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
U = 2.0 ** -53  # float64 unit roundoff
TOOLS = ["hipi", "faiss", "numpy", "sklearn"]


# ----------------------------------------------------------------------------------------
# Data


def binary_codes(n, d, seed, clusters=1000, latent=64):
    """SimHash codes (packed, bit set for -1) of clustered Gaussian data, seeded."""
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(0.0, 1.0, clusters)
    assign = rng.choice(clusters, size=n, p=weights / weights.sum())
    centres = rng.standard_normal((clusters, latent))
    spread = rng.uniform(0.2, 0.8, clusters)
    proj = rng.standard_normal((latent, d))
    packed = np.empty((n, (d + 7) // 8), np.uint8)
    for r0 in range(0, n, 16384):
        a = assign[r0:r0 + 16384]
        x = centres[a] + spread[a, None] * rng.standard_normal((len(a), latent))
        packed[r0:r0 + len(a)] = np.packbits(x @ proj < 0, axis=1)
    return packed


def unpack_pm1(packed, d):
    """Packed bits (set for -1) as +-1 float32 rows (exact integers in any float32 GEMM at d < 2^24)."""
    return (1.0 - 2.0 * np.unpackbits(packed, axis=1, count=d)).astype(np.float32)


class Workload:
    """One instance: its file, datasets, mode (cosine, ip or binary) and whether it self-joins."""

    def __init__(self, name, args):
        self.name = name
        d = args.dim
        seed = args.seed
        if name == "lsa":
            n = args.rows or (8000 if args.quick else 95000)
            self.tag = f"embeddings-{n}-{d}"
            self.path = os.path.join(args.dir, self.tag + ".h5")
            self.a, self.b, self.mode, self.self_join = "/E", None, "cosine", True
            self.what = "LSA embeddings of Debian's text, unit float32 rows, self-join, cosine"
            if not os.path.exists(self.path):
                sys.path.insert(0, HERE)
                import embeddings  # noqa: E402 (bench/embeddings.py: its LSA builder, unchanged)

                t = time.time()
                embeddings.make(self.path, n, d)
                print(f"[data] lsa: {time.time() - t:.0f} s", flush=True)
        elif name == "gauss":
            n = args.rows or (4096 if args.quick else 32768)
            self.tag = f"gauss-{n}x{n}-{d}-seed{seed}"
            self.path = os.path.join(args.dir, self.tag + ".h5")
            self.a, self.b, self.mode, self.self_join = "/A", "/B", "ip", False
            self.what = "Gaussian float32 rows, A x B, inner product (MIPS)"
            if not os.path.exists(self.path):
                rng = np.random.default_rng(seed)
                with h5py.File(self.path + ".tmp", "w") as f:
                    f["A"] = rng.standard_normal((n, d), dtype=np.float32)
                    f["B"] = rng.standard_normal((n, d), dtype=np.float32)
                os.replace(self.path + ".tmp", self.path)
        elif name == "binary":
            n = args.rows or (8192 if args.quick else 65536)
            self.tag = f"binary-{n}-{d}-c1000-seed{seed}"
            self.path = os.path.join(args.dir, self.tag + ".h5")
            self.a, self.b, self.mode, self.self_join = "/A", None, "binary", True
            self.what = "SimHash bits of 1000 Gaussian clusters, packed, self-join, Hamming"
            if not os.path.exists(self.path):
                with h5py.File(self.path + ".tmp", "w") as f:
                    f["A"] = binary_codes(n, d, seed)
                    f["A"].attrs["bits"] = d
                os.replace(self.path + ".tmp", self.path)
        else:
            raise ValueError(name)
        with h5py.File(self.path, "r") as f:
            self.rows_a = f[self.a].shape[0]
            self.rows_b = f[self.b].shape[0] if self.b else self.rows_a
            self.dim = int(f[self.a].attrs["bits"]) if self.mode == "binary" else f[self.a].shape[1]
        self.x = self.y = None

    def load(self):
        """The rows as the truth reads them: float64 (real) or +-1 float32 (binary)."""
        if self.x is not None:
            return
        with h5py.File(self.path, "r") as f:
            a = f[self.a][...]
            b = f[self.b][...] if self.b else None
        if self.mode == "binary":
            self.x = unpack_pm1(a, self.dim)
            self.y = unpack_pm1(b, self.dim) if b is not None else self.x
        else:
            self.x = a.astype(np.float64)
            self.y = b.astype(np.float64) if b is not None else self.x
            self.nx = np.sqrt(sum2_rows(self.x * self.x))
            self.ny = np.sqrt(sum2_rows(self.y * self.y)) if b is not None else self.nx

    def describe(self):
        b = "" if self.self_join else f" x {self.rows_b}"
        return f"{self.name}: {self.rows_a}{b} rows, d {self.dim} ({self.what})"


# ----------------------------------------------------------------------------------------
# Truth


def sum2_rows(p):
    """Row sums of p (P x d) by compensated summation (TwoSum, Ogita-Rump-Oishi Sum2): within
    about one ulp of the exact sum, and the same for equal rows. The products of float32
    values are exact in float64, so sum2_rows(x[i] * y[j]) is a near-exact dot product."""
    cols = np.ascontiguousarray(p.T)
    s = np.zeros(p.shape[0])
    c = np.zeros(p.shape[0])
    for q in cols:
        t = s + q
        z = t - s
        c += (s - (t - z)) + (q - z)
        s = t
    return s + c


def truth_top_k(w, kmax, threads):
    """(indices int64 [n, kmax], scores float64 [n, kmax]) by (score desc, j asc), self excluded."""
    from threadpoolctl import threadpool_limits

    w.load()
    n, m, d = w.rows_a, w.rows_b, w.dim
    kk = min(kmax, m - w.self_join)
    idx = np.full((n, kmax), -1, np.int64)
    sc = np.full((n, kmax), -np.inf)
    item = 4 if w.mode == "binary" else 8
    # A block of scores within 256 MiB, its candidates' products within 64 MiB.
    block = int(max(16, min(4096, (256 << 20) // (item * m), (64 << 20) // (8 * kmax * d))))
    yt = np.ascontiguousarray(w.y.T)
    if w.mode == "ip":
        ymax = float(w.ny.max())
    refined = 0
    t0 = time.time()
    with threadpool_limits(threads):
        for r0 in range(0, n, block):
            r1 = min(n, r0 + block)
            s = w.x[r0:r1] @ yt
            if w.mode == "cosine":
                s /= w.nx[r0:r1, None]
                s /= w.ny[None, :]
            if w.self_join:
                s[np.arange(r1 - r0), np.arange(r0, r1)] = -np.inf
            kth = np.partition(s, m - kk, axis=1)[:, m - kk]
            if w.mode == "binary":
                band = np.zeros(r1 - r0)  # exact integers
            else:
                # |float64 GEMM - exact| <= gamma_d sum|a_l b_l| <= (d+2) u |a| |b| (cosine: over |a| |b|, plus
                # the divisions' few u; |score| <= |a| |b|): twice that separates any two scores for sure,
                # doubled again for margin.
                scale = np.ones(r1 - r0) if w.mode == "cosine" else w.nx[r0:r1] * ymax
                band = 4 * (d + 10) * U * scale
            r, c = np.nonzero(s >= (kth - band)[:, None])
            v = s[r, c].astype(np.float64)
            order = np.lexsort((c, -v, r))
            r, c, v = r[order], c[order], v[order]
            if w.mode != "binary" and len(r) > 1:
                # Scores closer than the band (equal rows, near-ties) may be out of order: rescore them with
                # a compensated exact dot product (the same for equal rows) and sort again.
                close = (r[1:] == r[:-1]) & (v[:-1] - v[1:] <= band[r[1:]])
                near = np.zeros(len(r), bool)
                near[:-1] |= close
                near[1:] |= close
                q = np.nonzero(near)[0]
                if len(q):
                    e = sum2_rows(w.x[r0 + r[q]] * w.y[c[q]])
                    v[q] = e / (w.nx[r0 + r[q]] * w.ny[c[q]]) if w.mode == "cosine" else e
                    refined += len(q)
                    order = np.lexsort((c, -v, r))
                    r, c, v = r[order], c[order], v[order]
            counts = np.bincount(r, minlength=r1 - r0)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            pos = np.arange(len(r)) - starts[r]
            keep = pos < kk
            idx[r0 + r[keep], pos[keep]] = c[keep]
            sc[r0 + r[keep], pos[keep]] = v[keep]
            if r0 == 0 or (r0 // block) % 20 == 0:
                done = r1 / n
                print(f"\r[truth] {w.name} k {kmax}: {100 * done:.0f}% ({time.time() - t0:.0f} s)", end="",
                      file=sys.stderr, flush=True)
    print(file=sys.stderr, flush=True)
    return idx, sc, refined


def get_truth(w, kmax, args):
    """The cached truth for the largest k (any cached K >= kmax serves), else computed and cached."""
    for path in sorted(glob.glob(os.path.join(args.dir, f"truth-{w.tag}-k*.npz"))):
        k = int(path.rsplit("-k", 1)[1][:-4])
        if k >= kmax:
            with np.load(path) as z:
                return z["idx"][:, :kmax], z["scores"][:, :kmax], None, path
    t = time.time()
    idx, sc, refined = truth_top_k(w, kmax, args.ranks)
    seconds = time.time() - t
    path = os.path.join(args.dir, f"truth-{w.tag}-k{kmax}.npz")
    np.savez(path + ".tmp.npz", idx=idx, scores=sc)
    os.replace(path + ".tmp.npz", path)
    print(f"[truth] {w.name}: {seconds:.1f} s ({refined} near-tied candidates rescored exactly) -> {path}", flush=True)
    return idx, sc, seconds, path


def pair_scores(w, i, j):
    """Float64 scores of pairs (i, j) from the stored values (binary: exact integers)."""
    w.load()
    if len(i) == 0:
        return np.zeros(0)
    if w.mode == "binary":
        return np.einsum("ij,ij->i", w.x[i], w.y[j]).astype(np.float64)
    v = sum2_rows(w.x[i] * w.y[j])
    return v / (w.nx[i] * w.ny[j]) if w.mode == "cosine" else v


def compare(w, found, t_idx, t_sc, k, rtol):
    """Rows whose index set differs from the truth's; of those, ties (every j of the symmetric
    difference scores within rtol relative of the truth's k-th score; binary: exactly) and real."""
    n, m = w.rows_a, w.rows_b
    out = {"differ": 0, "ties": 0, "real": 0}
    if found.shape != (n, k):
        out.update(differ=n, real=n, note=f"answer has shape {found.shape}, want {(n, k)}")
        return out
    s_found, s_truth = np.sort(found, axis=1), np.sort(t_idx, axis=1)
    rows = np.nonzero((s_found != s_truth).any(axis=1))[0]
    out["differ"] = int(len(rows))
    if len(rows) == 0:
        return out
    f, t, ts = found[rows], t_idx[rows], t_sc[rows]
    dup = (s_found[rows, 1:] == s_found[rows, :-1]).any(axis=1)
    kf = rows[:, None] * (m + 1) + (f + 1)
    kt = rows[:, None] * (m + 1) + (t + 1)
    extra = ~np.isin(kf, kt)
    missing = ~np.isin(kt, kf)
    kth = ts[:, k - 1]
    tol = np.zeros(len(rows)) if w.mode == "binary" else rtol * np.abs(kth)
    bad = dup.copy()
    gap = np.zeros(len(rows))
    # Extra j: invalid (padding, out of range, the row itself) or off the k-th score.
    er, ec = np.nonzero(extra)
    j = f[er, ec]
    invalid = (j < 0) | (j >= m) | ((rows[er] == j) if w.self_join else False)
    bad[er[invalid]] = True
    ok = ~invalid
    v = pair_scores(w, rows[er[ok]], j[ok])
    g = np.abs(v - kth[er[ok]])
    np.maximum.at(gap, er[ok], g)
    bad[er[ok][g > tol[er[ok]]]] = True
    # Missing j: its truth score off the k-th score.
    mr, mc = np.nonzero(missing)
    g = np.abs(ts[mr, mc] - kth[mr])
    g[~np.isfinite(g)] = np.inf
    np.maximum.at(gap, mr, g)
    bad[mr[g > tol[mr]]] = True
    out["real"] = int(bad.sum())
    out["ties"] = out["differ"] - out["real"]
    rel = gap / np.maximum(np.abs(kth), 1e-300)
    out["max_gap_rel"] = float(rel.max())
    if out["real"]:
        out["max_real_gap_rel"] = float(rel[bad].max())
        ex = []
        for q in np.nonzero(bad)[0][:3]:
            ex.append({"row": int(rows[q]), "kth_truth": float(kth[q]),
                       "extra": [int(x) for x in f[q][extra[q]]], "missing": [int(x) for x in t[q][missing[q]]],
                       "missing_scores": [float(x) for x in ts[q][missing[q]]]})
        out["examples"] = ex
    return out


def check_order(found, scores, t_idx, t_sc, w):
    """hipi only: rows whose order differs from the truth's (of a row with the same set), rows
    out of (score desc, j asc) by their own scores, and the largest score error."""
    same = (np.sort(found, axis=1) == np.sort(t_idx, axis=1)).all(axis=1)
    order = int(((found != t_idx).any(axis=1) & same).sum())
    s1, s2, j1, j2 = scores[:, :-1], scores[:, 1:], found[:, :-1], found[:, 1:]
    valid = (j1 >= 0) & (j2 >= 0)
    unsorted = int(((valid & ((s1 < s2) | ((s1 == s2) & (j1 > j2)))).any(axis=1)).sum())
    fin = np.isfinite(t_sc) & same[:, None] & (found == t_idx)
    err = float(np.max(np.abs(scores[fin] - t_sc[fin]) / np.maximum(1.0, np.abs(t_sc[fin])))) if fin.any() else 0.0
    if w.mode == "binary":
        err = float(np.max(np.abs(scores[fin] - t_sc[fin]))) if fin.any() else 0.0
    return {"order_differs": order, "unsorted_rows": unsorted, "max_score_err": err}


# ----------------------------------------------------------------------------------------
# Tools


def run_timed(cmd, env, timeout):
    """(wall seconds, stdout, error or None) of a command in a process group of its own."""
    t = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                                start_new_session=True)
    except OSError as e:
        return None, "", f"cannot start {cmd[0]}: {e}"
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, "", f"stopped after --timeout {timeout:.0f} s"
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        return wall, out, f"exit status {proc.returncode}: {error_lines(err or out)}"
    return wall, out, None


def error_lines(text, most=6):
    """The tool's own error lines: mpirun's banners (between lines of dashes) and the
    copies other ranks print dropped; a Python traceback's last lines."""
    own, banners, banner, seen = [], [], False, set()
    for ln in text.strip().splitlines():
        if ln.startswith("-----"):
            banner = not banner
            continue
        if not ln.strip() or ln in seen:
            continue
        seen.add(ln)
        (banners if banner else own).append(ln)
    if any(ln.startswith("Traceback") for ln in own):
        return "\n".join(own[-2:])
    return "\n".join((own or banners)[:most]) or text.strip()[-400:]


def run_hipi(w, k, method, args, workdir):
    out = os.path.join(workdir, f"{w.tag}-k{k}-hipi-{method}.h5")
    report = os.path.join(workdir, f"{w.tag}-k{k}-hipi-{method}.json")
    for p in (out, report):
        if os.path.exists(p):
            os.remove(p)
    cmd = ["mpirun", "-np", str(args.ranks)]
    if args.ranks > len(os.sched_getaffinity(0)):
        cmd.append("--oversubscribe")
    cmd += [args.hipi, "solve", "--a", f"{w.path}:{w.a}"]
    if w.b:
        cmd += ["--b", f"{w.path}:{w.b}"]
    cmd += ["--top-k", str(k)]
    if w.mode == "cosine":
        cmd.append("--cosine")
    if w.mode == "binary":
        cmd.append("--binary")
    cmd += ["--out", out, "--method", method, "--report", report]
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")  # as scripts/blas-env.sh: one BLAS thread a rank
    wall, _, err = run_timed(cmd, env, args.timeout)
    res = {"tool": f"hipi-{method}", "wall": wall, "cmd": " ".join(cmd)}
    if err:
        res["error"] = err
        return res, None, None
    try:
        with h5py.File(out, "r") as f:
            found = f["knn_indices"][...].astype(np.int64)
            scores = f["knn_scores"][...].astype(np.float64)
        os.remove(out)
    except (OSError, KeyError) as e:
        res["error"] = f"cannot read {out}: {e}"
        return res, None, None
    try:
        with open(report) as f:
            rep = json.load(f)
        res["ran"] = rep.get("method")
        res["kernels"] = rep.get("kernels")
        res["stages"] = {s: round(v["max"] if isinstance(v, dict) else v, 3) for s, v in rep.get("timings", {}).items()}
    except (OSError, ValueError, AttributeError) as e:
        res["report_error"] = str(e)
    return res, found, scores


def run_child(tool, w, k, args, workdir):
    """A baseline as a child process of this script with RANKS threads; (result, indices)."""
    out = os.path.join(workdir, f"{w.tag}-k{k}-{tool}.npy")
    if os.path.exists(out):
        os.remove(out)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", tool, "--data", w.path, "--mode", w.mode,
           "--a-set", w.a, "--b-set", w.b or "", "--k", str(k), "--threads", str(args.ranks), "--np-block",
           str(args.np_block), "--out", out]
    env = dict(os.environ)
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[v] = str(args.ranks)
    if args.omp_passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    wall, stdout, err = run_timed(cmd, env, args.timeout)
    res = {"tool": {"faiss": "faiss-binaryflat" if w.mode == "binary" else "faiss-flatip",
                    "numpy": "numpy-gemm", "sklearn": "sklearn-brute"}[tool], "wall": wall}
    if err:
        res["error"] = err
        return res, None
    try:
        res["stages"] = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pass
    found = np.load(out)
    os.remove(out)
    return res, found


def child(argv):
    """Child mode: one baseline, timed inside too; prints its stages as JSON, saves the indices."""
    p = argparse.ArgumentParser()
    p.add_argument("--child", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--mode", required=True)
    p.add_argument("--a-set", required=True)
    p.add_argument("--b-set", default="")
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--np-block", type=int, required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    st = {}
    t = time.perf_counter()
    with h5py.File(a.data, "r") as f:
        x = f[a.a_set][...]
        y = f[a.b_set][...] if a.b_set else None
        d = int(f[a.a_set].attrs["bits"]) if a.mode == "binary" else x.shape[1]
    self_join = y is None
    st["read"] = time.perf_counter() - t
    t = time.perf_counter()
    k = a.k
    if a.child == "faiss":
        import faiss

        faiss.omp_set_num_threads(a.threads)
        index = faiss.IndexBinaryFlat(d) if a.mode == "binary" else faiss.IndexFlatIP(d)
        index.add(x if self_join else y)
        _, ids = index.search(x, k + self_join)
        found = drop_self(ids.astype(np.int64), k) if self_join else ids.astype(np.int64)
    elif a.child == "numpy":
        if a.mode == "binary":
            x = (1.0 - 2.0 * np.unpackbits(x, axis=1, count=d)).astype(np.float32)
        yt = np.ascontiguousarray((x if self_join else y).T)
        m = yt.shape[1]
        found = np.empty((len(x), k), np.int64)
        for r0 in range(0, len(x), a.np_block):
            c = x[r0:r0 + a.np_block] @ yt
            if self_join:
                c[np.arange(len(c)), np.arange(r0, r0 + len(c))] = -np.inf
            part = np.argpartition(c, m - k, axis=1)[:, m - k:]
            vals = np.take_along_axis(c, part, axis=1)
            found[r0:r0 + len(c)] = np.take_along_axis(part, np.argsort(-vals, axis=1, kind="stable"), axis=1)
    elif a.child == "sklearn":
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(x if self_join else y)
        found = (nn.kneighbors(return_distance=False) if self_join else
                 nn.kneighbors(x, return_distance=False)).astype(np.int64)
    else:
        raise SystemExit(f"unknown tool {a.child}")
    st["search"] = time.perf_counter() - t
    t = time.perf_counter()
    np.save(a.out, found)
    st["write"] = time.perf_counter() - t
    print(json.dumps({s: round(v, 3) for s, v in st.items()}))


def drop_self(ids, k):
    """k + 1 neighbours of each row of a self-join -> k: the row itself removed, or the last."""
    n = len(ids)
    is_self = ids == np.arange(n)[:, None]
    none = ~is_self.any(axis=1)
    is_self[none, -1] = True
    first = np.argmax(is_self, axis=1)  # one column a row
    mask = np.ones_like(is_self)
    mask[np.arange(n), first] = False
    return ids[mask].reshape(n, k)


# ----------------------------------------------------------------------------------------
# Report


def fmt_row(r, faiss_wall):
    wall = r.get("wall")
    if r.get("error"):
        return f"  {r['tool']:<20} {'failed':>8}  {r['error'].splitlines()[0][:120]}" + (
            "\n" + "\n".join("      " + ln for ln in r["error"].splitlines()[1:]) if "\n" in r["error"] else "")
    ratio = f"{wall / faiss_wall:.2f}" if faiss_wall else "-"
    c = r["check"]
    name = r["tool"] + (f"({r['ran']})" if r.get("ran") and r["tool"] == "hipi-auto" else "")
    note = ""
    if c.get("real"):
        note = f"real gap up to {c['max_real_gap_rel']:.1e} rel"
    elif c.get("differ"):
        note = f"tie gaps up to {c['max_gap_rel']:.1e} rel"
    if "order" in r:
        o = r["order"]
        note += f"{'; ' if note else ''}order diffs {o['order_differs']}, unsorted {o['unsorted_rows']}, " \
                f"score err {o['max_score_err']:.1e}"
    if r.get("stages"):
        st = " ".join(f"{s} {v:.2f}" for s, v in r["stages"].items() if isinstance(v, (int, float)) and v >= 0.01)
        note += f"{'; ' if note else ''}stages {st}"
    if r.get("kernels"):
        note += f"{'; ' if note else ''}kernels {json.dumps(r['kernels'], separators=(',', ':'))}"
    return f"  {name:<20} {wall:>8.2f} {ratio:>7} {c['differ']:>8} {c['ties']:>7} {c['real']:>6}  {note}"


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default="/tmp/topk-bench", help="data, truth cache and outputs (default %(default)s)")
    ap.add_argument("--workload", nargs="+", choices=["lsa", "gauss", "binary"], default=["lsa", "gauss", "binary"])
    ap.add_argument("--k", type=int, nargs="+", default=[1, 10, 100])
    ap.add_argument("--quick", action="store_true", help="small sizes: lsa 8000, gauss 4096 x 4096, binary 8192")
    ap.add_argument("--rows", type=int, help="rows of every chosen workload (gauss: A and B)")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1, help="gauss and binary data")
    ap.add_argument("--ranks", type=int, default=2, help="hipi ranks, and threads of the other tools")
    ap.add_argument("--hipi", default=os.path.join(ROOT, "build", "hipi"))
    ap.add_argument("--methods", nargs="+", default=["auto"], help="hipi --method values to run (default auto)")
    ap.add_argument("--brute", action="store_true", help="also hipi --method brute")
    ap.add_argument("--skip", nargs="+", default=[], help="tools to skip: hipi faiss numpy sklearn (commas allowed)")
    ap.add_argument("--np-block", type=int, default=1024, help="numpy: rows of A per GEMM block")
    ap.add_argument("--tie-rtol", type=float, default=1e-6, help="real data: a tie is within this of the k-th score")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds before a tool is stopped")
    ap.add_argument("--omp-passive", action="store_true",
                    help="OMP_WAIT_POLICY=PASSIVE for FAISS/numpy/sklearn: on a machine busy with other work, "
                         "libgomp's spinning threads slow FAISS down several times (IndexBinaryFlat above all)")
    ap.add_argument("--json", help="write every figure to this file")
    a = ap.parse_args(argv)
    a.skip = {s for x in a.skip for s in x.split(",") if s}
    unknown = a.skip - set(TOOLS)
    if unknown:
        ap.error(f"--skip: unknown tools {sorted(unknown)}; choose from {TOOLS}")
    if a.brute and "brute" not in a.methods:
        a.methods.append("brute")
    a.k = sorted(set(a.k))
    a.hipi = os.path.abspath(a.hipi)
    return a


def main(argv):
    args = parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    workdir = os.path.join(args.dir, "runs")
    os.makedirs(workdir, exist_ok=True)
    if "OPENBLAS_CORETYPE" not in os.environ:
        print("note: OPENBLAS_CORETYPE is not set (source scripts/blas-env.sh for the kernels this CPU allows)")
    if os.getuid() == 0 and "OMPI_ALLOW_RUN_AS_ROOT" not in os.environ and "hipi" not in args.skip:
        print("note: running as root without OMPI_ALLOW_RUN_AS_ROOT: source scripts/env.sh, or mpirun refuses")
    print(f"top-k: hipi on {args.ranks} ranks ({args.hipi}), FAISS/numpy/sklearn on {args.ranks} threads; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '-')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '-')} (hipi)"
          + ("; OMP_WAIT_POLICY=PASSIVE for the others" if args.omp_passive else ""), flush=True)
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"note: load average {load:.1f} before the first run: other work shares the machine", flush=True)
    print("differ: rows whose index set differs from the truth's; ties: of those, the rows explained by ties "
          f"(scores within {args.tie_rtol:g} relative of the k-th, binary: equal); real: the others. "
          "/FAISS: wall time over FAISS's.", flush=True)
    everything = {"args": {k: (sorted(v) if isinstance(v, set) else v) for k, v in vars(args).items()},
                  "workloads": []}
    hipi_bad = []
    for name in args.workload:
        t = time.time()
        w = Workload(name, args)
        kmax = max(args.k)
        if kmax > w.rows_b - w.self_join:
            print(f"{name}: k {kmax} exceeds the {w.rows_b - w.self_join} candidates of a row; skipped")
            continue
        t_idx_all, t_sc_all, truth_s, truth_path = get_truth(w, kmax, args)
        wrec = {"workload": name, "file": w.path, "rows_a": w.rows_a, "rows_b": w.rows_b, "dim": w.dim,
                "mode": w.mode, "self_join": w.self_join, "truth_seconds": truth_s, "truth_file": truth_path,
                "results": []}
        everything["workloads"].append(wrec)
        for k in args.k:
            t_idx, t_sc = t_idx_all[:, :k], t_sc_all[:, :k]
            results = []
            if "hipi" not in args.skip:
                for method in args.methods:
                    res, found, scores = run_hipi(w, k, method, args, workdir)
                    if found is not None:
                        res["check"] = compare(w, found, t_idx, t_sc, k, args.tie_rtol)
                        if scores is not None and scores.shape == t_sc.shape:
                            res["order"] = check_order(found, scores, t_idx, t_sc, w)
                        o = res.get("order", {})
                        if res["check"]["differ"] or o.get("order_differs") or o.get("unsorted_rows"):
                            hipi_bad.append((name, k, res["tool"], res["check"], o))
                    results.append(res)
            for tool in ["faiss", "numpy", "sklearn"]:
                if tool in args.skip or (tool == "sklearn" and w.mode != "cosine"):
                    continue
                res, found = run_child(tool, w, k, args, workdir)
                if found is not None:
                    res["check"] = compare(w, found, t_idx, t_sc, k, args.tie_rtol)
                results.append(res)
            faiss_wall = next((r["wall"] for r in results if r["tool"].startswith("faiss") and not r.get("error")),
                              None)
            print(f"\n== {w.describe()}; k = {k} ==")
            print(f"  {'tool':<20} {'wall s':>8} {'/FAISS':>7} {'differ':>8} {'ties':>7} {'real':>6}  notes")
            for r in results:
                print(fmt_row(r, faiss_wall))
                if r["tool"].startswith("hipi") and r.get("check", {}).get("differ"):
                    print(f"  !! {r['tool']} IS NOT EXACT: {r['check']['differ']} rows differ from the truth; "
                          f"examples {json.dumps(r['check'].get('examples', []))}")
            sys.stdout.flush()
            for r in results:
                r["k"] = k
                if faiss_wall and r.get("wall") and not r.get("error"):
                    r["wall_over_faiss"] = r["wall"] / faiss_wall
            wrec["results"] += results
        wrec["seconds"] = time.time() - t
        if args.json:
            write_json(args.json, everything)
    if hipi_bad:
        print("\n!! hipi differs from the truth:")
        for name, k, tool, c, o in hipi_bad:
            print(f"!!   {name} k {k} {tool}: {c['differ']} rows differ ({c['ties']} ties, {c['real']} real); "
                  f"order {o}")
    if args.json:
        write_json(args.json, everything)
        print(f"\nwrote {args.json}")
    return 1 if hipi_bad else 0


def write_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    if "--child" in sys.argv[1:]:
        child(sys.argv[1:])
    else:
        sys.exit(main(sys.argv[1:]))
