#!/usr/bin/env python3
"""Embedding near-duplicates at cosine >= tau: hipi against FAISS IndexFlatIP range_search
and a numpy blocked float32 GEMM, in one run, each checked against a float64 truth.

    source scripts/env.sh; source scripts/blas-env.sh
    bench/embeddings.py --dir emb-data [--rows 95000] [--dim 256] [--tau 0.8 0.9 0.95]

The embeddings are LSA of real text made on this machine: paragraphs of the text Debian
ships (/usr/share/doc, /usr/share/common-licenses, man pages, Python package docs), TF-IDF
of their words, a truncated SVD (scipy) to --dim coordinates, unit rows in float32; made
once into DIR/embeddings.h5 (generated, never committed). hipi runs as a user would
(mpirun -np RANKS hipi solve --cosine, auto and brute); FAISS and numpy with RANKS threads.
The truth: every pair numpy's float32 product puts within 1e-4 of tau or above (float32
errs by under 1e-5 at unit norm and d 256), decided in float64 on the stored values.
"""
import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOTS = ["/usr/share/doc", "/usr/share/common-licenses", "/usr/share/man", "/usr/lib/python3/dist-packages"]


def paragraphs():
    """Paragraphs of at least 8 words from the text files under ROOTS, in a fixed order."""
    out = []
    for root in ROOTS:
        for dirpath, dirnames, files in os.walk(root):
            dirnames.sort()
            for name in sorted(files):
                path = os.path.join(dirpath, name)
                try:
                    if name.endswith(".gz"):
                        text = gzip.open(path, "rt", errors="ignore").read()
                    elif name.endswith((".txt", ".md", ".rst")) or name.startswith(("README", "changelog", "NEWS")) \
                            or name == "copyright":
                        text = open(path, errors="ignore").read()
                    else:
                        continue
                except OSError:
                    continue
                for para in re.split(r"\n\s*\n", text):
                    words = para.split()
                    if len(words) >= 8:
                        out.append(" ".join(words))
    return out


def lsa(texts, dim):
    """TF-IDF of lower-case word unigrams (document frequency >= 2), then a truncated SVD."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.linalg import svds

    vocab, rows, cols, vals = {}, [], [], []
    docs = [re.findall(r"[a-z0-9]+", t.lower()) for t in texts]
    df = {}
    for words in docs:
        for w in set(words):
            df[w] = df.get(w, 0) + 1
    for w, c in df.items():
        if c >= 2:
            vocab[w] = len(vocab)
    for i, words in enumerate(docs):
        counts = {}
        for w in words:
            if w in vocab:
                counts[vocab[w]] = counts.get(vocab[w], 0) + 1
        for j, c in counts.items():
            rows.append(i)
            cols.append(j)
            vals.append(1 + np.log(c))
    idf = np.log(len(docs) / np.array([df[w] for w in vocab], dtype=np.float64)) + 1
    x = csr_matrix((np.array(vals) * idf[cols], (rows, cols)), shape=(len(docs), len(vocab)))
    u, s, _ = svds(x, k=dim, random_state=0)
    e = u[:, ::-1] * s[::-1]
    norms = np.linalg.norm(e, axis=1)
    e = e[norms > 0] / norms[norms > 0, None]
    return e.astype(np.float32)


def make(path, n, dim):
    texts = paragraphs()
    order = np.random.default_rng(7).permutation(len(texts))[: int(n * 1.02)]
    t = time.time()
    e = lsa([texts[k] for k in order], dim)[:n]
    with h5py.File(path, "w") as f:
        f["E"] = e
    print(f"made {path}: {e.shape[0]} x {e.shape[1]} from {len(texts)} paragraphs in {time.time() - t:.0f} s",
          file=sys.stderr)


def numpy_pairs(e, tau, slack, block=4096):
    """Blocked float32 GEMM of unit rows, pairs i < j with cos >= tau - slack: (i, j, cos32)."""
    out_i, out_j, out_v = [], [], []
    for r0 in range(0, len(e), block):
        c = e[r0:r0 + block] @ e[r0:].T
        i, j = np.nonzero(c >= tau - slack)
        keep = j + r0 > i + r0
        out_i.append(i[keep] + r0)
        out_j.append(j[keep] + r0)
        out_v.append(c[i[keep], j[keep]])
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_v)


def keys(i, j, n):
    """Pairs as sorted int64 keys i n + j."""
    return np.unique(np.asarray(i, dtype=np.int64) * n + np.asarray(j, dtype=np.int64))


def truth(e, tau):
    i, j, _ = numpy_pairs(e, tau, 1e-4)
    x = e.astype(np.float64)
    n = np.linalg.norm(x, axis=1)
    keep = np.zeros(len(i), dtype=bool)
    for s in range(0, len(i), 1 << 20):
        a, b = i[s:s + (1 << 20)], j[s:s + (1 << 20)]
        keep[s:s + len(a)] = np.einsum("ij,ij->i", x[a], x[b]) / (n[a] * n[b]) >= tau
    return keys(i[keep], j[keep], len(e))


def score(found, want):
    """(extra, missing) of sorted keys."""
    return len(np.setdiff1d(found, want, assume_unique=True)), len(np.setdiff1d(want, found, assume_unique=True))


def run_hipi(args, data, tau, method):
    out = os.path.join(args.dir, f"hipi-{method}-{tau}.h5")
    report = out + ".json"
    cmd = ["mpirun", "-np", str(args.ranks), "--oversubscribe", args.hipi, "solve", "--a", f"{data}:/E", "--tau",
           str(tau), "--cosine", "--method", method, "--out", out, "--report", report]
    t = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.time() - t
    with h5py.File(out, "r") as f:
        p = f["pairs"][...]
    os.remove(out)
    with open(report) as f:
        rep = json.load(f)
    stages = {k: round(v["max"], 2) for k, v in rep["timings"].items()}
    return wall, keys(p[:, 0], p[:, 1], n_rows(data)), rep["method"], stages, rep["kernels"]


def n_rows(data):
    with h5py.File(data, "r") as f:
        return f["E"].shape[0]


def run_faiss(e, tau, threads):
    import faiss

    faiss.omp_set_num_threads(threads)
    t = time.time()
    index = faiss.IndexFlatIP(e.shape[1])
    index.add(e)
    # FAISS keeps inner products > radius: the float32 just below tau keeps those == tau.
    lims, _, ids = index.range_search(e, float(np.nextafter(np.float32(tau), np.float32(-np.inf))))
    wall = time.time() - t
    rows = np.repeat(np.arange(len(e)), np.diff(lims.astype(np.int64)))
    keep = ids > rows
    return wall, keys(rows[keep], ids[keep], len(e))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--rows", type=int, default=95000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--tau", type=float, nargs="+", default=[0.8, 0.9, 0.95])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--hipi", default=os.path.join(HERE, "..", "build", "hipi"))
    ap.add_argument("--skip-numpy", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    data = os.path.join(args.dir, f"embeddings-{args.rows}-{args.dim}.h5")
    if not os.path.exists(data):
        make(data, args.rows, args.dim)
    with h5py.File(data, "r") as f:
        e = f["E"][...]
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.ranks)
    print(f"{e.shape[0]} x {e.shape[1]} unit rows; hipi on {args.ranks} ranks, FAISS and numpy on {args.ranks} threads")
    print(f"{'tau':>5} {'method':<14} {'wall s':>8} {'pairs':>9} {'extra':>6} {'missing':>7} {'FAISS/x':>8}  stages")
    for tau in args.tau:
        want = truth(e, tau)
        rows = []
        wall, found = run_faiss(e, tau, args.ranks)
        rows.append(("faiss-flatip", wall, found, "", ""))
        if not args.skip_numpy:
            t = time.time()
            i, j, _ = numpy_pairs(e, tau, 0.0)
            wall = time.time() - t
            rows.append(("numpy-gemm", wall, keys(i, j, len(e)), "", ""))
        for method in ["auto", "brute"]:
            wall, found, ran, stages, kernels = run_hipi(args, data, tau, method)
            rows.append((f"hipi-{method}" + (f"({ran})" if method == "auto" else ""), wall, found, stages, kernels))
        faiss_wall = rows[0][1]
        for name, wall, found, stages, kernels in rows:
            extra, missing = score(found, want)
            print(f"{tau:>5} {name:<14} {wall:>8.2f} {len(found):>9} {extra:>6} {missing:>7} {faiss_wall / wall:>8.2f}  "
                  f"{stages}")
        print(f"      truth: {len(want)} pairs; hipi kernels {rows[-1][4]}")


if __name__ == "__main__":
    main()
