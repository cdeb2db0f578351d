# The Python module at one rank: the same answer as the CLI on the same data (binary and
# real, self-join and A x B, --abs, packed bits), every method against a naive numpy
# answer, ValueError with the CLI's messages, and the GIL released while it computes.
import threading
import time

import h5py
import numpy as np
import pytest

import hipi
from conftest import run_cli


def signs(rng, n, d):
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=(n, d))


def plant(rng, a, b, pairs, flip):
    """Copies rows of a into b with a fraction `flip` of coordinates negated: heavy pairs."""
    for i, j in pairs:
        row = a[i].copy()
        idx = rng.choice(a.shape[1], size=int(flip * a.shape[1]), replace=False)
        row[idx] = -row[idx]
        b[j] = row


def naive(a, b, threshold, use_abs):
    """Every heavy pair by one dense product (float64), sorted by (i, j)."""
    self_join = b is None
    g = a.astype(np.float64) @ (a if self_join else b).astype(np.float64).T
    v = np.abs(g) if use_abs else g
    hit = v >= threshold
    if self_join:
        hit &= np.triu(np.ones_like(hit, dtype=bool), 1)
    i, j = np.nonzero(hit)
    return np.stack([i, j], axis=1).astype(np.int64), g[i, j]


def cli_answer(hipi_bin, tmp_path, a, b, flag, value, use_abs=False, packed_bits=None):
    f = tmp_path / "in.h5"
    with h5py.File(f, "w") as h:
        h["A"] = a
        if packed_bits is not None:
            h["A"].attrs["bits"] = packed_bits
        if b is not None:
            h["B"] = b
            if packed_bits is not None:
                h["B"].attrs["bits"] = packed_bits
    out = tmp_path / "out.h5"
    args = ["--a", f"{f}:/A", flag, str(value), "--method", "brute", "--out", str(out)]
    if b is not None:
        args += ["--b", f"{f}:/B"]
    if use_abs:
        args.append("--abs")
    status, err = run_cli(hipi_bin, *args)
    assert status == 0, err
    with h5py.File(out, "r") as h:
        return h["pairs"][...], h["inner_products"][...]


@pytest.mark.parametrize("self_join", [True, False])
@pytest.mark.parametrize("use_abs", [False, True])
def test_binary_equals_the_cli(hipi_bin, tmp_path, self_join, use_abs):
    rng = np.random.default_rng(3)
    a = signs(rng, 300, 96)
    b = None if self_join else signs(rng, 250, 96)
    plant(rng, a, a if self_join else b, [(1, 5), (7, 9), (20, 100)], 0.1)
    want = cli_answer(hipi_bin, tmp_path, a, b, "--rho", 0.5, use_abs)
    got = hipi.find_heavy_pairs(a, b, rho=0.5, abs=use_abs)
    assert len(want[0]) >= 3
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("self_join", [True, False])
@pytest.mark.parametrize("use_abs", [False, True])
def test_real_equals_the_cli(hipi_bin, tmp_path, self_join, use_abs):
    rng = np.random.default_rng(4)
    a = rng.standard_normal((300, 64)).astype(np.float32)
    b = None if self_join else rng.standard_normal((200, 64)).astype(np.float32)
    tau = 24.0  # about 3 noise sigmas at d = 64
    want = cli_answer(hipi_bin, tmp_path, a, b, "--tau", tau, use_abs)
    got = hipi.find_heavy_pairs(a, b, tau=tau, abs=use_abs)
    assert len(want[0]) > 0
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_packed_bits_equal_the_int8_rows(hipi_bin, tmp_path):
    rng = np.random.default_rng(5)
    a = signs(rng, 200, 70)  # 70 bits: the last byte is padded
    plant(rng, a, a, [(0, 1), (2, 3)], 0.05)
    packed = np.packbits(a < 0, axis=1)
    want = cli_answer(hipi_bin, tmp_path, packed, None, "--rho", 0.6, packed_bits=70)
    got = hipi.find_heavy_pairs(packed, rho=0.6, bits=70)
    np.testing.assert_array_equal(got[0], want[0])
    ref = hipi.find_heavy_pairs(a, rho=0.6)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])


def test_bits_is_refused_for_rows_that_are_not_packed():
    # bits= describes uint8 packed rows only: with int8 or float rows it used to be ignored.
    a = signs(np.random.default_rng(5), 10, 70)
    with pytest.raises(ValueError, match="bits=70 is for uint8 packed rows; A is int8"):
        hipi.find_heavy_pairs(a, rho=0.6, bits=70)


@pytest.mark.parametrize("method", ["brute", "sketch", "hash", "auto"])
def test_every_method_gives_the_naive_answer(method):
    rng = np.random.default_rng(6)
    a = signs(rng, 2000, 128)
    plant(rng, a, a, [(k, 1000 + k) for k in range(0, 1000, 50)], 0.1)  # <a, b> = 0.8 d
    got, ips, info = hipi.find_heavy_pairs(a, rho=0.6, method=method, info=True)
    want, want_ips = naive(a, None, 0.6 * 128, False)
    assert len(want) == 20
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ips, want_ips)
    assert info["total"] == 20
    assert info["method"] == method or method == "auto"


def test_float64_rows_and_copies():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((500, 32))
    a[10:20] = a[3]  # ten exact copies of row 3: their pairs are all heavy
    got, ips = hipi.find_heavy_pairs(a, tau=20.0)
    want, want_ips = naive(a.astype(np.float32), None, 20.0, False)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(ips, want_ips, rtol=1e-12)


def cli_error(hipi_bin, tmp_path, a, flag, value):
    f = tmp_path / "bad.h5"
    with h5py.File(f, "w") as h:
        h["A"] = a
    status, err = run_cli(hipi_bin, "--a", f"{f}:/A", flag, str(value), "--out", str(tmp_path / "o.h5"))
    assert status == 2, err
    # "hipi: error: <file>:/A: <message>": the message after the dataset's name.
    return err.strip().splitlines()[-1].split(":/A: ", 1)[1]


def test_input_errors_are_value_errors_with_the_cli_messages(hipi_bin, tmp_path):
    a = np.ones((10, 16), dtype=np.int8)
    a[3, 5] = 2
    message = cli_error(hipi_bin, tmp_path, a, "--rho", 0.5)
    with pytest.raises(ValueError) as e:
        hipi.find_heavy_pairs(a, rho=0.5)
    assert message in str(e.value)
    assert "row 3, column 5 holds 2" in message

    r = np.ones((10, 16), dtype=np.float32)
    r[2, 1] = np.nan
    message = cli_error(hipi_bin, tmp_path, r, "--tau", 1.0)
    with pytest.raises(ValueError) as e:
        hipi.find_heavy_pairs(r, tau=1.0)
    assert message in str(e.value)

    with pytest.raises(ValueError, match="rho must be in"):
        hipi.find_heavy_pairs(a, rho=1.5)
    with pytest.raises(ValueError, match="exactly one of rho"):
        hipi.find_heavy_pairs(a)
    with pytest.raises(ValueError, match="same dimension"):
        hipi.find_heavy_pairs(a, np.ones((4, 8), dtype=np.int8), rho=0.5)
    with pytest.raises(ValueError, match="2-D"):
        hipi.find_heavy_pairs(np.ones(5, dtype=np.int8), rho=0.5)
    with pytest.raises(ValueError, match="method must be one of"):
        hipi.find_heavy_pairs(a, rho=0.5, method="faiss")


def test_the_gil_is_released_while_it_computes():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((6000, 512)).astype(np.float32)
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    start = time.perf_counter()
    hipi.find_heavy_pairs(a, tau=200.0, method="brute")
    seconds = time.perf_counter() - start
    done.set()
    counter.join()
    # Held, the GIL would let the counter tick only at the call's edges; released, about
    # once per millisecond of the call (a quarter of that is the bound checked).
    assert seconds > 0.05
    assert ticks > 0.25 * seconds * 1000, (ticks, seconds)


def test_cosine_on_scaled_rows_equals_numpy_and_the_cli(hipi_bin, tmp_path):
    """cosine=True: rows scaled by factors in [1e-3, 1e3] give numpy's float64 cosines
    (outside a band of 1e-9 around tau, where the two summation orders may disagree), with
    the cosines as values, and the CLI's --cosine file the same pairs and values."""
    rng = np.random.default_rng(21)
    centres = rng.standard_normal((30, 40))
    a = centres[rng.integers(0, 30, 500)] + 0.4 * rng.standard_normal((500, 40))
    a = (a * 10 ** rng.uniform(-3, 3, (500, 1))).astype(np.float32)
    pairs, cos = hipi.find_heavy_pairs(a, tau=0.85, cosine=True, method="brute")
    x = a.astype(np.float64)
    n = np.linalg.norm(x, axis=1)
    c = (x @ x.T) / np.outer(n, n)
    i, j = np.triu_indices(len(a), 1)
    sure = {(p, q) for p, q in zip(i, j) if c[p, q] >= 0.85 + 1e-9}
    got = {tuple(p) for p in pairs}
    assert sure <= got and len(sure) > 100
    assert all(c[p, q] >= 0.85 - 1e-9 for p, q in got)
    assert np.allclose(cos, c[pairs[:, 0], pairs[:, 1]], rtol=0, atol=1e-12)
    f = tmp_path / "in.h5"
    with h5py.File(f, "w") as h:
        h["A"] = a
    out = tmp_path / "out.h5"
    status, err = run_cli(hipi_bin, "--a", str(f), "--tau", "0.85", "--cosine", "--method", "brute", "--out", str(out))
    assert status == 0, err
    with h5py.File(out, "r") as h:
        assert np.array_equal(h["pairs"][...], pairs) and np.array_equal(h["inner_products"][...], cos)
        assert h.attrs["measure"] == "cosine"


def test_cosine_refuses_zero_rows_unless_skipped():
    rng = np.random.default_rng(22)
    a = rng.standard_normal((100, 16)).astype(np.float32)
    a[7] = 0
    with pytest.raises(ValueError, match="row 7 is all zeros"):
        hipi.find_heavy_pairs(a, tau=0.5, cosine=True, method="brute")
    pairs, _ = hipi.find_heavy_pairs(a, tau=0.5, cosine=True, skip_zero_rows=True, method="brute")
    assert len(pairs) > 0 and not np.any(pairs == 7)


def cli_components(hipi_bin, tmp_path, a, tau):
    """`hipi solve --cosine --components` (brute force) on the rows of a; the output's path."""
    f = tmp_path / "in.h5"
    with h5py.File(f, "w") as h:
        h["A"] = a
    out = tmp_path / "out.h5"
    status, err = run_cli(hipi_bin, "--a", str(f), "--tau", str(tau), "--cosine", "--components", "--method", "brute",
                          "--out", str(out))
    assert status == 0, err
    return out


def test_components_equal_scipys_connected_components(hipi_bin, tmp_path):
    """--components: /components holds each row's smallest row index in its connected
    component of the pairs written, as scipy's connected_components finds them."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(23)
    centres = rng.standard_normal((40, 32))
    a = (centres[rng.integers(0, 40, 800)] + 0.5 * rng.standard_normal((800, 32))).astype(np.float32)
    a[700:720] = a[3]  # exact copies of one row
    out = cli_components(hipi_bin, tmp_path, a, 0.9)
    with h5py.File(out, "r") as h:
        pairs, labels = h["pairs"][...], h["components"][...]
        groups = h["components"].attrs["groups"]
    n = len(a)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    count, component = connected_components(graph, directed=False)
    smallest = np.full(count, n)
    np.minimum.at(smallest, component, np.arange(n))
    assert np.array_equal(labels, smallest[component])
    assert groups == np.sum(np.bincount(component) > 1) and groups > 10
    assert np.all(labels[700:720] == labels[3])


def test_components_from_python_equal_the_clis(hipi_bin, tmp_path):
    rng = np.random.default_rng(24)
    centres = rng.standard_normal((25, 24))
    a = (centres[rng.integers(0, 25, 400)] + 0.5 * rng.standard_normal((400, 24))).astype(np.float32)
    pairs, cos, labels = hipi.find_heavy_pairs(a, tau=0.9, cosine=True, components=True, method="brute")
    with h5py.File(cli_components(hipi_bin, tmp_path, a, 0.9), "r") as h:
        assert np.array_equal(h["pairs"][...], pairs) and np.array_equal(h["components"][...], labels)
    assert labels.shape == (400,) and np.sum(labels != np.arange(400)) > 50
    with pytest.raises(ValueError, match="self-join"):
        hipi.find_heavy_pairs(a, a, tau=0.9, components=True)


def test_the_dedup_example_keeps_one_row_per_component(tmp_path):
    import os
    import subprocess
    import sys

    rng = np.random.default_rng(25)
    centres = rng.standard_normal((30, 20))
    a = (centres[rng.integers(0, 30, 300)] + 0.3 * rng.standard_normal((300, 20))) * 7
    np.save(tmp_path / "e.npy", a)
    example = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "dedup_embeddings.py")
    done = subprocess.run([sys.executable, example, str(tmp_path / "e.npy"), "--tau", "0.9", "--keep",
                           str(tmp_path / "keep.npy")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    _, _, labels = hipi.find_heavy_pairs(a, tau=0.9, cosine=True, components=True, method="brute")
    keep = np.load(tmp_path / "keep.npy")
    assert np.array_equal(keep, np.flatnonzero(labels == np.arange(300))) and 30 <= len(keep) < 200


def sparse_rows(seed, n, d):
    """Sparse real rows as text makes them: about 10 entries a row over d columns, frequent
    columns more likely, near-copies of the first 40 rows at 100-139, exact copies of rows
    0-4 at 200-204, and every 50th row empty."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    for r in range(n):
        if r % 50 == 49:
            continue
        base = r - 100 if 100 <= r < 140 else r - 200 if 200 <= r < 205 else r
        picked = np.unique((rng.random(12) ** 3 * d).astype(np.int64)) if base == r else None
        if base != r:
            m = sp.csr_matrix((np.array(vals, dtype=np.float32)[np.array(rows) == base],
                               (np.zeros(np.sum(np.array(rows) == base), dtype=np.int64),
                                np.array(cols)[np.array(rows) == base])), shape=(1, d))
            picked, v = m.indices.astype(np.int64), m.data.copy()
            if base != r - 200:
                v = (v * (1 + 0.05 * rng.random(len(v)))).astype(np.float32)
        else:
            v = rng.standard_normal(len(picked)).astype(np.float32)
        rows += [r] * len(picked)
        cols += list(picked)
        vals += list(v)
    return sp.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(n, d))


def write_csr(path, name, x):
    with h5py.File(path, "a") as f:
        g = f.create_group(name)
        g.attrs["encoding-type"] = "csr_matrix"
        g.attrs["shape"] = np.array(x.shape, dtype=np.int64)
        g["data"], g["indices"], g["indptr"] = x.data, x.indices, x.indptr


@pytest.mark.parametrize("cosine", [False, True])
def test_scipy_sparse_input_gives_the_clis_answer(hipi_bin, tmp_path, cosine):
    """A scipy.sparse matrix (CSR, CSC, COO; matrix or array) gives the pairs and values of
    `hipi solve` on the same rows stored as a CSR group, and of the dense rows."""
    import scipy.sparse as sp

    x = sparse_rows(31, 400, 5000)
    tau = 0.6 if cosine else 1.0
    kw = dict(tau=tau, cosine=cosine, skip_zero_rows=cosine)
    pairs, values, info = hipi.find_heavy_pairs(x, info=True, **kw)
    assert info["method"] == "sparse" and len(pairs) > 40
    for other in (x.tocsc(), x.tocoo(), sp.csr_array(x)):
        p, v = hipi.find_heavy_pairs(other, method="sparse", **kw)
        assert np.array_equal(p, pairs) and np.array_equal(v, values)
    p, v = hipi.find_heavy_pairs(x.toarray(), method="brute", **kw)
    assert np.array_equal(p, pairs) and np.array_equal(v, values)
    f = tmp_path / "in.h5"
    write_csr(f, "X", x)
    out = tmp_path / "out.h5"
    flags = ["--cosine", "--skip-zero-rows"] if cosine else []
    status, err = run_cli(hipi_bin, "--a", f"{f}:/X", "--tau", str(tau), *flags, "--out", str(out))
    assert status == 0, err
    with h5py.File(out, "r") as h:
        assert np.array_equal(h["pairs"][...], pairs) and np.array_equal(h["inner_products"][...], values)
        assert h.attrs["method"] == "sparse"


def test_sparse_a_against_dense_b_and_bad_sparse_input():
    x = sparse_rows(32, 300, 800)
    a, b = x[:200], x[200:].toarray()
    pairs, values = hipi.find_heavy_pairs(a, b, tau=1.0, method="sparse")
    want = a.toarray().astype(np.float64) @ b.T.astype(np.float64)
    i, j = np.nonzero(want >= 1.0 + 1e-9)
    assert {tuple(p) for p in pairs} >= set(zip(i, j)) and len(i) > 0
    assert np.all(want[pairs[:, 0], pairs[:, 1]] >= 1.0 - 1e-9)  # no pair below tau
    assert np.allclose(values, want[pairs[:, 0], pairs[:, 1]], rtol=0, atol=1e-9)
    bad = x.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        hipi.find_heavy_pairs(bad, tau=1.0, method="sparse")
    with pytest.raises(ValueError, match="use --tau|real"):
        hipi.find_heavy_pairs(x, rho=0.5)


def edited_csr(edit):
    """sparse_rows(33, 60, 200) with its arrays edited after scipy checked them (scipy's
    constructor checks indptr's last entry only, and not at all once they are replaced)."""
    x = sparse_rows(33, 60, 200)
    assert x.nnz > 100 and x.indptr[1] > 0
    edit(x)
    return x


def shorten(*names):
    def edit(x):
        for name in names:
            setattr(x, name, getattr(x, name)[:-5])
    return edit


def set_offset(k, value):
    def edit(x):
        x.indptr[k] = value
    return edit


def move_offsets_past_the_entries(x):
    x.indptr[1:] += 10**6


# Each edit, and the ValueError it must give (the entries are never read past their end).
BAD_CSR = {
    "indptr past the entries": (set_offset(1, 10**6), "indptr decreases at row 1"),
    "every offset past the entries": (move_offsets_past_the_entries, "indptr spans .* entries .*, but indices and data hold"),
    "negative first offset": (set_offset(0, -1), r"indptr\[0\] is -1"),
    "negative offset": (set_offset(2, -7), "indptr decreases at row 1"),
    "data shortened": (shorten("data"), ".*values but .* column indices"),
    "indices shortened": (shorten("indices"), ".*values but .* column indices"),
    "both shortened": (shorten("data", "indices"), "indptr spans .* entries .*, but indices and data hold"),
    "indptr shortened": (shorten("indptr"), "indptr has 56 offsets, 61 expected"),
}


@pytest.mark.parametrize("case", list(BAD_CSR))
def test_scipy_csr_arrays_that_disagree_are_refused_before_they_are_read(case):
    edit, message = BAD_CSR[case]
    x = edited_csr(edit)
    for method in ("sparse", "brute"):  # joined sparse, and densified
        with pytest.raises(ValueError, match="A: " + message):
            hipi.find_heavy_pairs(x, tau=1.0, method=method)
    with pytest.raises(ValueError, match="B: " + message):
        hipi.find_heavy_pairs(sparse_rows(33, 60, 200), x, tau=1.0, method="sparse")


def test_complex_sparse_input_is_refused_as_complex_dense_input_is():
    x = sparse_rows(34, 50, 100).astype(np.complex64)
    with pytest.raises(ValueError, match="dtype complex128 is not supported"):
        hipi.find_heavy_pairs(x.toarray().astype(np.complex128), tau=1.0)
    for sparse in (x, x.tocoo(), x.astype(np.complex128)):
        with pytest.raises(ValueError, match="A: a sparse matrix of complex values .* is not supported"):
            hipi.find_heavy_pairs(sparse, tau=1.0)
    with pytest.raises(ValueError, match="B: a sparse matrix of complex values"):
        hipi.find_heavy_pairs(x.real, x, tau=1.0)


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, "7"])
def test_a_seed_that_is_not_a_64_bit_unsigned_integer_is_a_value_error(seed):
    a = signs(np.random.default_rng(9), 20, 16)
    with pytest.raises(ValueError, match=r"seed must be a non-negative integer \(< 2\^64\); got "):
        hipi.find_heavy_pairs(a, rho=0.5, seed=seed)


def test_every_64_bit_unsigned_seed_is_taken():
    a = signs(np.random.default_rng(9), 200, 64)
    want = hipi.find_heavy_pairs(a, rho=0.3, method="brute")
    for seed in (0, 2**64 - 1, np.uint64(2**63), np.int32(5)):
        got = hipi.find_heavy_pairs(a, rho=0.3, method="brute", seed=seed)
        assert np.array_equal(got[0], want[0]) and len(want[0]) > 0
