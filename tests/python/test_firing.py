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


def test_pairs_are_there_after_construction():
    rng = np.random.default_rng(22)
    X = rng.standard_normal((300, 48)).astype(np.float32)
    W = (rng.standard_normal((400, 48)) / np.sqrt(48)).astype(np.float32)
    fs = hipi.FiringSet(W, X, 2.0)
    r, i = dense_firing(W, X, 2.0)
    assert len(r) > 10
    np.testing.assert_array_equal(fs.pairs[0], r)
    np.testing.assert_array_equal(fs.pairs[1], i)


@pytest.mark.parametrize("case, message", [
    ("d", "W has d = 8 columns, X has 9"),
    ("1d", "W must be 2-D (neurons x d), got 1-D"),
    ("nan_w", "W holds NaN or infinity"),
    ("inf_x", "X holds NaN or infinity"),
    ("nan_b", "b must be a finite number"),
    ("update_shape", "update: W has shape (4, 7), the firing set was built for (4, 8)"),
    ("update_nan", "update: W holds NaN or infinity"),
    ("update_inf", "update: W holds NaN or infinity"),
])
def test_input_checks_say_what_is_wrong(case, message):
    W, X, b = np.ones((4, 8), np.float32), np.ones((5, 8), np.float32), 1.0
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        if case == "d":
            hipi.FiringSet(W, np.ones((5, 9), np.float32), b)
        elif case == "1d":
            hipi.FiringSet(np.ones(8, np.float32), X, b)
        elif case == "nan_w":
            W[1, 2] = np.nan
            hipi.FiringSet(W, X, b)
        elif case == "inf_x":
            X[0, 0] = np.inf
            hipi.FiringSet(W, X, b)
        elif case == "nan_b":
            hipi.FiringSet(W, X, float("nan"))
        else:
            fs = hipi.FiringSet(W, X, b, band=0.5)
            if case == "update_shape":
                fs.update(np.ones((4, 7), np.float32))
            else:
                W2 = W.copy()
                W2[3, 3] = np.nan if case == "update_nan" else np.inf
                fs.update(W2)


def test_closeness_margin_holds_at_large_d():
    # At d = 2^20 float32 sums can err by about gamma_d ||w|| ||x|| (gamma_d = d u / (1 - d u));
    # the margin must be at least that bound, computed from the float32 norm (which itself
    # errs low by up to gamma_d): 1.01 times it was too little past d of about 3.3e5.
    fs = hipi.FiringSet(np.ones((1, 4), np.float32), np.ones((1, 4), np.float32), 0.5, band=0.1)
    d = 1 << 20
    gamma = d * 2.0**-24 / (1 - d * 2.0**-24)
    w_norm_float32 = np.sqrt(1 - gamma)  # a true norm of 1 computed as low as this
    margin = fs._float32_margin(np.array([w_norm_float32]), np.array([1.0]), d)
    assert margin[0] >= gamma * 1.0 * 1.0
    # and an absolute term, for products that underflow in float32
    assert fs._float32_margin(np.array([0.0]), np.array([0.0]), d)[0] > 0
