# FiringSet against a dense float64 recomputation at every step (fixed seeds): small and
# large weight updates (neurons recomputed, the whole set recomputed), a band given, and the
# training example's loss and gradients equal to the dense network's.
import os
import sys

import numpy as np
import pytest

import hipi

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "relu_training"))


def dense_firing(W, X, b):
    r, i = np.nonzero(W.astype(np.float64) @ X.astype(np.float64).T > b)
    return r, i


@pytest.mark.parametrize("scale", [1e-4, 3e-3, 3e-2])
def test_firing_set_equals_a_dense_recomputation_at_every_step(scale):
    rng = np.random.default_rng(21)
    m, n, d, b = 1500, 700, 96, 3.0
    X = rng.standard_normal((n, d)).astype(np.float32)
    W = (rng.standard_normal((m, d)) / np.sqrt(d)).astype(np.float32)
    fs = hipi.FiringSet(W, X, b)
    for step in range(12):
        # Updates of a few neurons at a time, and of all of them at the larger scales.
        moved = rng.random(m) < (0.05 if step % 2 else 1.0)
        W = W + (moved[:, None] * rng.standard_normal((m, d)) * scale).astype(np.float32)
        fs.update(W)
        r, i = dense_firing(W, X, b)
        assert len(r) > 100
        np.testing.assert_array_equal(fs.pairs[0], r, err_msg=f"step {step}")
        np.testing.assert_array_equal(fs.pairs[1], i, err_msg=f"step {step}")
    if scale == 1e-4:
        assert fs.stats["neurons_recomputed"] == 0 and fs.stats["full"] == 1  # the band held throughout
    else:
        assert fs.stats["neurons_recomputed"] > 0 or fs.stats["full"] > 1


def test_pairs_right_at_the_threshold():
    # Inner products that are exactly b do not fire (> b), whatever the drift.
    X = np.eye(8, dtype=np.float32)
    W = np.zeros((4, 8), dtype=np.float32)
    W[0, 0] = 1.0   # <w_0, x_0> = 1 = b: does not fire
    W[1, 1] = 1.5   # fires
    fs = hipi.FiringSet(W, X, 1.0, band=0.25)
    fs.update(W)
    assert list(zip(*fs.pairs)) == [(1, 1)]
    W[0, 0] = 1.0 + 2**-20  # just above b: now fires
    fs.update(W)
    assert list(zip(*fs.pairs)) == [(0, 0), (1, 1)]


def test_training_on_firing_pairs_equals_the_dense_network():
    torch = pytest.importorskip("torch")
    import train

    out, fs, _ = train.run(m=768, n=384, d=64, b=3.0, steps=6, lr=0.5, check=True, log=lambda *_: None)
    assert all(s["fires"] > 0 for s in out)
    assert out[-1]["loss"] < out[0]["loss"]
