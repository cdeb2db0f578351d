"""Exact firing sets of a shifted ReLU layer across training steps.

For weights W (m x d), inputs X (n x d) and a threshold b, the firing set is every (r, i)
with <w_r, x_i> > b. After a full computation at weights W0, keep every pair within a band
below the threshold, <w0_r, x_i> >= b - band (found by hipi, exactly), with its inner
product. When W moves, neuron r's products move by at most ||w_r - w0_r|| ||x_i||
(Cauchy-Schwarz), so while drift_r = ||w_r - w0_r|| stays under band / max_i ||x_i|| no
pair outside the kept ones can fire. A kept pair's product is known at the neuron's last
snapshot w1_r, within +-||w_r - w1_r|| ||x_i|| now: it surely fires, surely does not, or is
computed. A neuron whose snapshot drift passes an eighth of the band has its kept products
computed again (a snapshot: |kept pairs of r| products, not n); a neuron whose drift from
w0_r reaches the band is recomputed against every input (hipi again).

Products and norms computed here are float32 sums; each carries the bound |error| <=
gamma_d sum_k |w_k x_k| <= gamma_d ||w|| ||x|| (gamma_d = d u / (1 - d u), u = 2^-24), and
a pair within that bound of b is computed again in float64; drifts are inflated by their
own bound. Products from hipi are float64 sums of float32 values. So the set is the one a
float64 dense computation gives, up to float64's own rounding at b.
"""
import time

import numpy as np

from ._hipi import find_heavy_pairs

_U32 = 2.0**-24


def _one_process():
    """MPI.COMM_SELF: under mpirun each rank keeps the firing set of its own W and X."""
    from mpi4py import MPI

    return MPI.COMM_SELF


def _checked_rows(a, name):
    """`a` as contiguous float32 rows, or a ValueError naming it: 2-D, finite."""
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (neurons x d), got {a.ndim}-D" if name.endswith("W")
                         else f"{name} must be 2-D (inputs x d), got {a.ndim}-D")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds NaN or infinity")
    return a


class FiringSet:
    """The pairs (r, i) with <W[r], X[i]> > b, kept exact across updates of W.

    W: m x d, X: n x d (float32, or converted; finite). band: the margin kept below b
    (default half the typical |<w, x>|, estimated from a sample). method: hipi's method for
    the full computations ("auto": the planner's choice). `pairs` holds from construction.
    Under mpirun each rank keeps the firing set of its own W and X (hipi runs on one
    process inside).
    """

    def __init__(self, W, X, b, *, band=None, method="auto", seed=1):
        self.X = _checked_rows(X, "X")
        W = _checked_rows(W, "W")
        if W.shape[1] != self.X.shape[1]:
            raise ValueError(f"W has d = {W.shape[1]} columns, X has {self.X.shape[1]}: they must match")
        if not np.isfinite(b):
            raise ValueError(f"b must be a finite number, got {b}")
        self.b = float(b)
        self.method = method
        self.seed = seed
        self.shape = W.shape
        self.x_norm = np.linalg.norm(self.X.astype(np.float64), axis=1)
        self.x_max = float(self.x_norm.max()) if len(self.x_norm) else 0.0
        d = W.shape[1]
        # Past d u >= 1/2 the float32 bound says nothing: every product near b is computed in float64.
        self.gamma = d * _U32 / (1 - d * _U32) if d * _U32 < 0.5 else np.inf
        if band is None:
            rng = np.random.default_rng(seed)
            sample = (W[rng.integers(0, len(W), 256)].astype(np.float64)
                      @ self.X[rng.integers(0, len(self.X), 256)].astype(np.float64).T)
            band = 0.5 * float(np.std(sample))
        if not band > 0 or not np.isfinite(band):
            raise ValueError(f"band must be a positive number, got {band}")
        self.band = float(band)
        self.stats = {"full": 0, "neurons_recomputed": 0, "snapshots": 0, "pairs_computed": 0, "pairs_kept": 0,
                      "seconds": {"drift": 0.0, "recompute": 0.0, "snapshot": 0.0, "classify": 0.0}}
        self._full(W)
        self.w_norm = np.sqrt(np.einsum("ij,ij->i", W, W).astype(np.float64))
        self._classify(W, np.zeros(len(W)))  # `pairs` holds from here on

    def _float32_margin(self, w_norm, x_norm, d=None):
        """How far a float32 sum <w, x> can be from the exact product: gamma_d sum_k |w_k x_k|
        <= gamma_d ||w|| ||x||, with ||w|| from a float32 sum (low by up to a factor
        sqrt(1 - gamma_d)), plus d times the largest product lost to underflow (2^-126 each)."""
        gamma = self.gamma if d is None else d * _U32 / (1 - d * _U32)
        d = self.X.shape[1] if d is None else d
        return gamma * w_norm * x_norm / np.sqrt(1 - min(gamma, 0.5)) * (1 + 1e-12) + d * 2.0**-126

    # --- the kept pairs: by neuron, with their products at the neuron's snapshot ----------
    def _full(self, W):
        self.base = W.copy()  # w0: the band holds while every neuron stays near it
        self.snap = W.copy()  # w1: the weights the kept products were computed at
        self.snap_norm = np.linalg.norm(W.astype(np.float64), axis=1)
        r, i, ip = self._kept_of(W, np.arange(len(W)))
        self._set_kept(r, i, ip)
        self.stats["full"] += 1

    def _kept_of(self, W, rows):
        """Every pair of neurons `rows` with <w, x> >= b - band, exactly (hipi)."""
        pairs, ips = find_heavy_pairs(W[rows], self.X, tau=self.b - self.band, method=self.method, seed=self.seed,
                                      comm=_one_process())
        return rows[pairs[:, 0]], pairs[:, 1], ips

    def _set_kept(self, r, i, ip):
        order = np.lexsort((i, r))
        self.kept_r, self.kept_i, self.kept_ip = r[order], i[order], ip[order]
        self.stats["pairs_kept"] = len(self.kept_r)

    def _recompute(self, W, rows):
        """Neurons `rows` against every input, from their weights now."""
        keep = ~np.isin(self.kept_r, rows)
        r, i, ip = self._kept_of(W, rows)
        self.base[rows] = W[rows]
        self.snap[rows] = W[rows]
        self.snap_norm[rows] = np.linalg.norm(W[rows].astype(np.float64), axis=1)
        self._set_kept(np.concatenate([self.kept_r[keep], r]), np.concatenate([self.kept_i[keep], i]),
                       np.concatenate([self.kept_ip[keep], ip]))
        self.stats["neurons_recomputed"] += len(rows)

    def _drift(self, W, ref):
        """||w_r - ref_r|| for every neuron, at least the exact value (float32 with its bound)."""
        diff = W - ref
        norm = np.sqrt(np.einsum("ij,ij->i", diff, diff).astype(np.float64))
        return norm * (1 + 2 * self.gamma + 4 * _U32)

    def _products(self, W, r, i):
        """<W[r], X[i]>: float32 sums, in float64 where the float32 bound reaches b."""
        ip = np.empty(len(r))
        for k in range(0, len(r), 1 << 13):  # pieces of gathered rows that stay in cache
            s = slice(k, k + (1 << 13))
            w, x = W[r[s]], self.X[i[s]]
            ip[s] = np.einsum("ij,ij->i", w, x)
            error = self._float32_margin(self.w_norm[r[s]], self.x_norm[i[s]])
            close = np.nonzero(np.abs(ip[s] - self.b) <= error)[0]
            if len(close):
                ip[k + close] = np.einsum("ij,ij->i", w[close].astype(np.float64), x[close].astype(np.float64))
        self.stats["pairs_computed"] += len(r)
        return ip

    # --- an update ---------------------------------------------------------------------------
    def update(self, W):
        """Moves to weights W (same shape): afterwards `pairs` is exact for W."""
        W = _checked_rows(W, "update: W")
        if W.shape != self.shape:
            raise ValueError(f"update: W has shape {W.shape}, the firing set was built for {self.shape}")
        seconds = self.stats["seconds"]
        t = time.perf_counter()
        self.w_norm = np.sqrt(np.einsum("ij,ij->i", W, W).astype(np.float64))  # for the float32 bounds
        # A neuron whose products may have moved by the band since w0 is recomputed.
        over = np.nonzero(self._drift(W, self.base) * self.x_max >= self.band)[0]
        seconds["drift"] += time.perf_counter() - t
        t = time.perf_counter()
        if len(over) > len(W) // 2:
            self._full(W)
        elif len(over):
            self._recompute(W, over)
        seconds["recompute"] += time.perf_counter() - t
        t = time.perf_counter()
        # A neuron whose kept products may have moved by an eighth of the band since w1
        # gets them computed again, so that few of them stay uncertain.
        drift = self._drift(W, self.snap)
        seconds["drift"] += time.perf_counter() - t
        t = time.perf_counter()
        stale = np.nonzero(drift * self.x_max >= self.band / 8)[0]
        if len(stale):
            at = np.nonzero(np.isin(self.kept_r, stale))[0]
            self.kept_ip[at] = self._products(W, self.kept_r[at], self.kept_i[at])
            self.snap[stale] = W[stale]
            self.snap_norm[stale] = np.linalg.norm(W[stale].astype(np.float64), axis=1)
            drift[stale] = 0
            self.stats["snapshots"] += len(stale)
        seconds["snapshot"] += time.perf_counter() - t
        t = time.perf_counter()
        self._classify(W, drift)
        seconds["classify"] += time.perf_counter() - t

    def _classify(self, W, drift):
        # A kept product moved by at most drift * ||x|| since w1 and was computed with an
        # error of at most gamma ||w1|| ||x|| (float32 sums; hipi's are tighter).
        per_neuron = drift + self.gamma * self.snap_norm
        slack = per_neuron[self.kept_r] * self.x_norm[self.kept_i] * (1 + 1e-6) + self.X.shape[1] * 2.0**-126
        sure = self.kept_ip - slack > self.b
        maybe = np.nonzero(~sure & (self.kept_ip + slack > self.b))[0]
        fires = sure
        fires[maybe] = self._products(W, self.kept_r[maybe], self.kept_i[maybe]) > self.b
        self.rows, self.inputs = self.kept_r[fires], self.kept_i[fires]

    @property
    def pairs(self):
        """(r, i) int64 arrays of the firing pairs, sorted by r then i."""
        return self.rows, self.inputs
