"""Heavy pairs in the shapes their users compute with.

find_heavy_pairs solves (the C++ library through hipi._hipi) and returns the pairs as
arrays, as a scipy.sparse matrix (what scipy's sparse_distance_matrix and scikit-learn's
radius_neighbors_graph give) or as FAISS's range_search result (lims, D, I). top_k finds
each row's k best (FAISS's search: (D, I); or the kNN graph as scikit-learn's
kneighbors_graph lays it out). read_pairs reads a file that `hipi solve --out` wrote, in
the same shapes.
"""
import json
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import _hipi

OUTPUTS = ("arrays", "coo", "csr", "lims")
TOP_K_OUTPUTS = ("knn", "arrays", "coo", "csr", "lims")


def find_heavy_pairs(A, B=None, *, rho=None, tau=None, abs=False, cosine=False, skip_zero_rows=False,
                     components=False, method="auto", seed=1, delta=1e-3, bits=None, memory_mib=0,
                     delivery="every_rank", comm=None, info=False, verbosity=0, output="arrays", symmetric=False):
    """Every pair (i, j) with <A[i], B[j]> >= threshold (|.| with abs=True), exactly.

    The threshold is inclusive (>=; FAISS's range_search keeps D > radius): rho= for +-1
    data (<a, b> >= rho * d), tau= for real data (<a, b> >= tau).

    A, B: 2-D arrays (anything numpy.asarray takes: lists too), rows are vectors: int8 (+-1
    with rho, or small integers with tau), uint8 packed bits (numpy.packbits(X < 0, axis=1),
    with bits=d when d is not a multiple of 8), float32 or float64 (rounded to float32;
    inner products summed in float64), other integers and bool as float64; or scipy.sparse
    matrices or arrays of real values (any format; solved sparse by method='sparse', or by
    auto when that is faster than densifying: TF-IDF, bag of words).
    B=None: the self-join of A (pairs i < j). With comm (an mpi4py communicator), A and B
    are this rank's blocks of rows, in rank order.

    cosine=True (with tau): the pair passes when <A[i], B[j]> / (||A[i]|| ||B[j]||) >= tau,
    norms and the decision in float64 on the stored values, and the values returned are the
    cosines; a row of zeros is a ValueError unless skip_zero_rows=True (it then pairs with
    nothing).
    components=True (self-join): also returns labels, int64 [n], each row's smallest row
    index in its connected component of the pairs (keep the rows i with labels[i] == i to
    deduplicate); with delivery='distributed', this rank's block of rows from
    info['components_first'].

    output: what the pairs come back as.
      'arrays' (default): pairs int64 [m, 2] sorted by (i, j), and inner_products float64 [m].
      'coo': a scipy.sparse.coo_array of shape (rows of A, rows of B) whose entries are the
             inner products (for a self-join the upper triangle, i < j, unless symmetric=True).
      'csr': the same as a scipy.sparse.csr_array.
      'lims': FAISS's range_search convention: lims int64 [rows of A + 1], D float64 [m],
              I int64 [m]: row i's partners are I[lims[i]:lims[i+1]], sorted, with their
              inner products in D. For a self-join, as FAISS's range_search of A against
              itself: each pair under both of its rows (i's partners include the j < i), and
              no row under itself; m is twice the number of pairs.
    symmetric=True (a self-join, 'coo' or 'csr'): the matrix holds each pair both ways, (i, j)
    and (j, i), as scikit-learn's radius_neighbors_graph does: the upper triangle plus its
    transpose. An inner product of exactly 0 that passes (tau <= 0) is an explicit zero in a
    sparse matrix. Returns the output's items (a single matrix for 'coo' and 'csr'), then
    labels with components=True, then with info=True a dict (method, parameters, timings,
    kernels, total, offset).
    delivery='distributed' leaves each rank its slice of the pairs (whole rows of A; the
    shape stays the whole answer's; a self-join's lims and symmetric matrix hold the slice's
    pairs both ways, so the ranks' matrices sum to the whole). Raises ValueError for bad
    input, with the CLI's messages.
    """
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(OUTPUTS)}; got {output!r}")
    self_join = B is None
    _check_symmetric(symmetric, output, self_join)
    A = _as_rows(A)
    B = None if self_join else _as_rows(B)
    found = _hipi.find_heavy_pairs(A, B, rho=rho, tau=tau, abs=abs, cosine=cosine, skip_zero_rows=skip_zero_rows,
                                   components=components, method=method, seed=seed, delta=delta, bits=bits,
                                   memory_mib=memory_mib, delivery=delivery, comm=comm, info=info,
                                   verbosity=verbosity)
    if output == "arrays":
        return found
    rows_a = _total_rows(A, comm)
    shape = (rows_a, rows_a if self_join else _total_rows(B, comm))
    shaped = as_output(found[0], found[1], shape, output, self_join=self_join, symmetric=symmetric)
    extras = tuple(found[2:])
    if not extras:
        return shaped
    return (shaped, *extras) if output in ("coo", "csr") else (*shaped, *extras)


def top_k(A, B=None, k=10, *, cosine=False, abs=False, tau=None, rho=None, skip_zero_rows=False, method="auto",
          seed=1, bits=None, memory_mib=0, comm=None, info=False, verbosity=0, output="knn"):
    """Each row of A's k best rows of B, exactly: the top-k inner product search (FAISS's
    IndexFlatIP.search), over MPI as find_heavy_pairs.

    The score of a pair is its inner product <A[i], B[j]> (its cosine with cosine=True; its
    absolute value with abs=True). Row i's k best are the k rows j of largest score, ties
    to the smaller j; B=None is the self-join of A, without the row itself (j != i). With a
    threshold, tau= (real rows: score >= tau) or rho= (+-1 rows: <a, b> >= rho * d), only
    the rows passing it: a row may then have fewer than k, as it has when B has fewer
    than k rows (or k rows with the row itself).

    A, B: as find_heavy_pairs takes them. Which rows are +-1 (binary mode: popcount
    kernels) and which real: rho= says +-1, tau= real; without either, uint8 packed bits
    (numpy.packbits(X < 0, axis=1), bits=d) are +-1 rows, and so are int8 rows holding only
    -1 and +1 (A's and B's, on every rank; not with cosine=True); every other dtype is real
    as find_heavy_pairs reads it (int8 small integers, float32, float64 rounded to float32,
    other integers and bool as float64 0/1, scipy.sparse). A +-1 row's scores are the same
    integers either way.

    k: a positive whole number (Python or numpy integer, not bool); anything else is a
    ValueError. method: 'auto', 'brute' or 'prefix' (the methods that serve top-k).

    output: what the lists come back as.
      'knn' (default): (D, I), FAISS's search layout: D float64 [rows of A, k], each row's
              scores best first (|value| with abs=True), -inf past its last; I int64
              [rows of A, k], the rows of B, -1 past the last.
      'csr': a scipy.sparse.csr_array (rows of A, rows of B) holding each row's entries
             best first (scikit-learn's kneighbors_graph(mode='distance') layout, columns
             not sorted), the values (signed inner products or cosines) as data; a value of
             exactly 0 is an explicit entry.
      'coo': the same entries as a scipy.sparse.coo_array.
      'arrays': pairs int64 [m, 2] and values float64 [m], sorted by (i, score descending, j).
      'lims': FAISS's range_search layout of the same: lims int64 [rows of A + 1], D float64
              [m] (the values, as find_heavy_pairs's), I int64 [m]; row i's at lims[i]:lims[i+1].
    info=True appends find_heavy_pairs's info dict. With comm (an mpi4py communicator) A and
    B are this rank's blocks of rows, in rank order, and every rank gets the whole answer.
    """
    if isinstance(B, (int, np.integer)) and not isinstance(B, (bool, np.bool_)):
        raise ValueError(f"B must be a matrix of rows, got {B!r}: give k by keyword (top_k(A, k={B}) is the "
                         f"self-join)")
    k = _check_k(k)
    if output not in TOP_K_OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(TOP_K_OUTPUTS)}; got {output!r}")
    self_join = B is None
    A = _as_rows(A)
    B = None if self_join else _as_rows(B)
    any_score = rho is None and tau is None
    # One collective before the solve: the rows of A and B over the ranks, and (top-k
    # without a threshold) whether every rank's rows are +-1.
    rows_a, rows_b, not_signs = (int(x) for x in _comm_or_world(comm).allreduce(
        np.array([_rows(A), _rows(A if self_join else B), any_score and not _rows_are_signs(A, B, cosine)],
                 dtype=np.int64)))
    binary = not not_signs if any_score else None
    # More than every row of B changes nothing but the padding: the library keeps k
    # entries a row, so it is asked for no more than there are (at least 1).
    solve_k = max(1, min(k, rows_b - 1 if self_join else rows_b))
    found = _hipi.find_heavy_pairs(A, B, rho=rho, tau=tau, abs=abs, cosine=cosine, skip_zero_rows=skip_zero_rows,
                                   top_k=solve_k, any_score=any_score, binary=binary, method=method, seed=seed,
                                   bits=bits, memory_mib=memory_mib, comm=comm, info=info, verbosity=verbosity)
    pairs, values = found[0], found[1]
    if output == "knn":
        shaped = knn_table(pairs, values, rows_a, k, abs=abs)
    else:
        shaped = as_output(pairs, values, (rows_a, rows_b), output)
    if output in ("coo", "csr"):
        shaped = (shaped,)
    result = (*shaped, *found[2:])
    return result[0] if len(result) == 1 else result


def knn_table(pairs, values, rows_a, k, *, abs=False):
    """Top-k pairs (sorted by i, score descending, j) as FAISS's search result (D, I): D
    float64 [rows_a, k], the scores (|value| with abs), -inf past a row's last; I int64
    [rows_a, k], -1 there."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    values = np.asarray(values, dtype=np.float64)
    i = pairs[:, 0]
    counts = np.bincount(i, minlength=rows_a)
    if len(counts) > rows_a or (len(i) and counts.max() > k):
        raise RuntimeError(f"a top-k answer with a row outside its {rows_a} rows or more than k = {k} pairs in a row")
    firsts = np.cumsum(counts) - counts
    at = np.arange(len(i), dtype=np.int64) - firsts[i]
    D = np.full((rows_a, k), -np.inf)
    I = np.full((rows_a, k), -1, dtype=np.int64)
    D[i, at] = np.abs(values) if abs else values
    I[i, at] = pairs[:, 1]
    return D, I


def _check_k(k):
    """k as a Python int: a positive whole number (numpy's integers too; not bool)."""
    refusal = f"k must be a positive whole number of rows, got {k!r}"
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise ValueError(refusal)
    if int(k) < 1:
        raise ValueError(refusal)
    return int(k)


def _comm_or_world(comm):
    """The communicator the solve runs on: comm, or MPI.COMM_WORLD as the module's default."""
    from mpi4py import MPI  # hipi._hipi imported it

    if comm is None:
        return MPI.COMM_WORLD
    if not isinstance(comm, MPI.Comm):
        raise TypeError("comm must be an mpi4py communicator")
    return comm


def _rows(X):
    """Rows of this rank's block (0 for what is not a matrix: the module refuses it)."""
    shape = getattr(X, "shape", ())
    return int(shape[0]) if len(shape) == 2 else 0


def _rows_are_signs(A, B, cosine):
    """Top-k without a threshold: whether this rank's rows are +-1 (binary mode). Packed
    bits are; int8 rows are when every one of A's and B's values is -1 or +1 (and there is
    no cosine, which binary mode refuses). The ranks agree on it (top_k)."""
    blocks = [X for X in (A, B) if X is not None]
    if any(isinstance(X, np.ndarray) and X.dtype == np.uint8 for X in blocks):
        return True
    return not cosine and all(isinstance(X, np.ndarray) and X.dtype == np.int8 and
                              bool(np.all((X == 1) | (X == -1))) for X in blocks)


def as_output(pairs, values, shape, output, *, self_join=False, symmetric=False):
    """Sorted pairs (int64 [m, 2]) and their values (float64 [m]) as `output` (OUTPUTS) of
    the given shape (rows of A, rows of B). self_join: the pairs are a self-join's (i < j),
    so 'lims' lists each pair under both of its rows, as FAISS's range_search of A against
    itself; symmetric=True (self_join, 'coo' or 'csr'): the matrix holds each pair both ways."""
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(OUTPUTS)}; got {output!r}")
    _check_symmetric(symmetric, output, self_join)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    values = np.asarray(values, dtype=np.float64)
    if output == "arrays":
        return pairs, values
    rows_a, rows_b = (int(n) for n in shape)
    if self_join and (symmetric or output == "lims"):
        pairs, values = _both_ways(pairs, values)
    i, j = pairs[:, 0], pairs[:, 1]
    lims = np.zeros(rows_a + 1, dtype=np.int64)
    np.cumsum(np.bincount(i, minlength=rows_a), out=lims[1:])
    if output == "lims":
        return lims, values, np.ascontiguousarray(j)
    import scipy.sparse  # only for the sparse outputs

    if output == "coo":
        return scipy.sparse.coo_array((values, (i, j)), shape=(rows_a, rows_b))
    return scipy.sparse.csr_array((values, np.ascontiguousarray(j), lims), shape=(rows_a, rows_b))


def _check_symmetric(symmetric, output, self_join):
    """symmetric=True mirrors a self-join's matrix; anywhere else it would mean nothing."""
    if not symmetric:
        return
    if not self_join:
        raise ValueError("symmetric=True is for a self-join (B=None): A x B pairs have no mirror image")
    if output not in ("coo", "csr", "lims"):
        raise ValueError(f"symmetric=True is for output 'coo' or 'csr' ('lims' of a self-join is both ways "
                         f"already); output {output!r} holds the pairs i < j")


def _both_ways(pairs, values):
    """A self-join's pairs (i < j) with their mirror images (j, i), sorted by (row, column):
    no pair is on the diagonal, so every row's partners stay distinct."""
    rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
    order = np.lexsort((cols, rows))
    return np.stack([rows[order], cols[order]], axis=1), np.concatenate([values, values])[order]


def _as_rows(X):
    """X as the module takes it: a scipy.sparse matrix as it is, anything else through
    numpy.asarray (lists, tuples, objects with __array__), as numpy takes it."""
    if hasattr(X, "tocsr") and hasattr(X, "nnz"):
        return X
    return np.asarray(X)


def _total_rows(X, comm):
    """Rows of X, over every rank of comm when X is this rank's block."""
    rows = int(X.shape[0])
    return rows if comm is None else int(comm.allreduce(rows))


@dataclass
class PairsFile:
    """An output file of `hipi solve`: its datasets and root attributes."""

    pairs: np.ndarray  # int64 [m, 2], sorted by (i, j); a top-k file's by (i, score descending, j)
    inner_products: np.ndarray  # float64 [m]; cosines when attrs['measure'] == 'cosine'
    components: Optional[np.ndarray] = None  # int64 [n], with --components
    attrs: dict = field(default_factory=dict)  # parameters and timings decoded from JSON
    knn_indices: Optional[np.ndarray] = None  # int64 [rows_a, top_k], -1 padded, with --top-k
    knn_scores: Optional[np.ndarray] = None  # float64 [rows_a, top_k], -inf padded (|value| with --abs)

    @property
    def top_k(self):
        """K of a file written by `hipi solve --top-k K` (its attribute top_k), else None."""
        return int(self.attrs["top_k"]) if "top_k" in self.attrs else None

    @property
    def shape(self):
        """(rows of A, rows of B): the answer's shape as its file records it."""
        if "rows_a" not in self.attrs:
            raise ValueError("this file does not record its shape (rows_a, rows_b: hipi 0.2 and later)")
        return int(self.attrs["rows_a"]), int(self.attrs["rows_b"])

    @property
    def self_join(self):
        """Whether the file holds a self-join's answer, as its parameters record (its pairs
        i < j, unless it is a top-k answer: then each row's K best, j != i)."""
        return bool(self.attrs.get("parameters", {}).get("self_join", False))

    def as_output(self, output="arrays", symmetric=False):
        """The pairs as find_heavy_pairs(output=..., symmetric=...) gives them (without labels
        or info): a self-join's 'lims' lists each pair under both of its rows. A top-k file's
        as hipi.top_k(output=...) gives them: 'knn' is (knn_scores, knn_indices), the
        others hold each row's list in the file's order; symmetric=True is refused."""
        if self.top_k is None:
            if output == "knn":
                raise ValueError("output 'knn' is for a top-k file (hipi solve --top-k); this file holds every pair "
                                 "past a threshold")
            return as_output(self.pairs, self.inner_products, self.shape if output != "arrays" else None, output,
                             self_join=self.self_join, symmetric=symmetric)
        if output not in TOP_K_OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(TOP_K_OUTPUTS)}; got {output!r}")
        if symmetric:
            raise ValueError("symmetric=True is for a self-join's heavy pairs; a top-k file's lists are each row's "
                             "own (row i's K best need not list i among theirs)")
        if output == "knn":
            return self.knn_scores, self.knn_indices
        return as_output(self.pairs, self.inner_products, self.shape if output != "arrays" else None, output)


def read_pairs(path):
    """Reads an output file of `hipi solve --out` (needs h5py): a PairsFile with the pairs,
    their inner products (or cosines), /components when present, and the attributes; a
    top-k file's (--top-k K) also /knn_indices and /knn_scores, and top_k = K."""
    import h5py

    with h5py.File(path, "r") as f:
        if "pairs" not in f or "inner_products" not in f:
            raise ValueError(f"{path}: not an output file of hipi (no /pairs and /inner_products)")
        attrs = {}
        for name, value in f.attrs.items():
            value = value.decode() if isinstance(value, bytes) else value
            attrs[name] = json.loads(value) if name in ("parameters", "timings") else value
        pairs = f["pairs"][...].astype(np.int64, copy=False).reshape(-1, 2)
        _check_pairs_in_shape(path, pairs, attrs)
        values = f["inner_products"][...].astype(np.float64, copy=False).reshape(-1)
        if len(values) != len(pairs):
            raise ValueError(f"{path}: {len(pairs)} pairs but {len(values)} inner products: the file is damaged")
        knn = _read_knn(path, f, attrs) if "top_k" in attrs else (None, None)
        return PairsFile(pairs=pairs, inner_products=values,
                         components=f["components"][...] if "components" in f else None, attrs=attrs,
                         knn_indices=knn[0], knn_scores=knn[1])


def _read_knn(path, f, attrs):
    """A top-k file's /knn_indices and /knn_scores, [rows_a, top_k] each (as the file
    records them), their indices -1 or rows of B."""
    k = int(attrs["top_k"])
    if "knn_indices" not in f or "knn_scores" not in f:
        raise ValueError(f"{path}: attribute top_k = {k} but no /knn_indices and /knn_scores: the file is damaged")
    indices = f["knn_indices"][...].astype(np.int64, copy=False)
    scores = f["knn_scores"][...].astype(np.float64, copy=False)
    rows = int(attrs["rows_a"]) if "rows_a" in attrs else indices.shape[0]
    for name, table in (("knn_indices", indices), ("knn_scores", scores)):
        if table.shape != (rows, k):
            raise ValueError(f"{path}: /{name} has shape {table.shape}, not (rows_a, top_k) = ({rows}, {k}): the "
                             f"file is damaged")
    rows_b = int(attrs["rows_b"]) if "rows_b" in attrs else None
    if np.any(indices < -1) or (rows_b is not None and np.any(indices >= rows_b)):
        raise ValueError(f"{path}: /knn_indices holds a row outside -1 (none) and rows_b = {rows_b}: the file is "
                         f"damaged")
    return indices, scores


def _check_pairs_in_shape(path, pairs, attrs):
    """A file's pairs inside the shape it records (files of hipi 0.2 and later): a pair past
    rows_a or rows_b would make an invalid matrix out of as_output, without a word."""
    if "rows_a" not in attrs or "rows_b" not in attrs or len(pairs) == 0:
        return
    rows_a, rows_b = int(attrs["rows_a"]), int(attrs["rows_b"])
    outside = (pairs < 0).any(axis=1) | (pairs[:, 0] >= rows_a) | (pairs[:, 1] >= rows_b)
    if outside.any():
        k = int(np.argmax(outside))
        raise ValueError(f"{path}: pair ({pairs[k, 0]}, {pairs[k, 1]}) at /pairs[{k}] lies outside the shape the "
                         f"file records, rows_a = {rows_a} by rows_b = {rows_b}: the file is damaged")
