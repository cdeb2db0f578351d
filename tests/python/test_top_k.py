# hipi.top_k at one rank: each row's k best against a float64 numpy truth with the tie rule
# (score descending, then the smaller j; j != i in a self-join) on Gaussian, clustered, +-1
# (int8 and packed) and small-integer rows, with cosine, abs, a threshold, k past the rows
# of B, k = 1 and exact copies; its outputs (knn, csr, coo, arrays, lims) against each
# other; FAISS's IndexFlatIP.search; k refused unless a positive whole number; read_pairs
# on the CLI's --top-k file.
import h5py
import numpy as np
import pytest

import hipi
from conftest import run_cli


def gaussian(seed, n, d=32):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def clustered(seed, n, d=24):
    """Rows near 15 centres (the same for every seed): many close neighbours."""
    centres = np.random.default_rng(0).standard_normal((15, d))
    rng = np.random.default_rng(seed)
    return (centres[rng.integers(0, 15, n)] + 0.3 * rng.standard_normal((n, d))).astype(np.float32)


def signs(seed, n, d=64):
    return np.random.default_rng(seed).choice(np.array([-1, 1], dtype=np.int8), size=(n, d))


def small_integers(seed, n, d=6):
    """int8 values in -2..2 over few columns: few distinct scores, many exact ties."""
    return np.random.default_rng(seed).integers(-2, 3, size=(n, d)).astype(np.int8)


def as_float64(X, bits=None):
    """Rows as hipi computes with them: packed bits as +-1, real values rounded to float32."""
    if X.dtype == np.uint8:
        return 1.0 - 2.0 * np.unpackbits(X, axis=1, count=bits).astype(np.float64)
    if X.dtype == np.int8:
        return X.astype(np.float64)
    return X.astype(np.float32).astype(np.float64)


def truth(A, B, k, *, abs=False, cosine=False, floor=None, bits=None):
    """(D, I) by a float64 product: row i's k best j by score (|value| with abs), ties to
    the smaller j (scores equal to 1e-9 are ties: exact copies, whatever the summation
    order), j != i in a self-join (B None), only scores >= floor when given."""
    a = as_float64(A, bits)
    b = a if B is None else as_float64(B, bits)
    values = a @ b.T
    if cosine:
        values = values / np.outer(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1))
    scores = np.abs(values) if abs else values
    allowed = np.ones(scores.shape, dtype=bool) if floor is None else scores >= floor
    if B is None:
        np.fill_diagonal(allowed, False)
    D = np.full((len(a), k), -np.inf)
    I = np.full((len(a), k), -1, dtype=np.int64)
    for i in range(len(a)):
        js = np.flatnonzero(allowed[i])
        best = js[np.lexsort((js, -np.round(scores[i, js], 9)))][:k]
        D[i, :len(best)], I[i, :len(best)] = scores[i, best], best
    return D, I


def expect_truth(got, want, exact=False):
    D, I = got
    assert D.dtype == np.float64 and I.dtype == np.int64 and D.shape == I.shape == want[1].shape
    np.testing.assert_array_equal(I, want[1])
    if exact:  # integer scores
        np.testing.assert_array_equal(D, want[0])
    else:
        np.testing.assert_allclose(D, want[0], rtol=0, atol=1e-9)


@pytest.mark.parametrize("method", ["auto", "brute", "prefix"])
@pytest.mark.parametrize("self_join", [True, False])
def test_gaussian_rows_give_the_truth(method, self_join):
    a = gaussian(1, 300)
    b = None if self_join else gaussian(2, 250)
    expect_truth(hipi.top_k(a, b, 10, method=method), truth(a, b, 10))


@pytest.mark.parametrize("cosine", [False, True])
@pytest.mark.parametrize("self_join", [True, False])
def test_clustered_rows_give_the_truth(cosine, self_join):
    a = clustered(3, 400)
    b = None if self_join else clustered(4, 300)
    expect_truth(hipi.top_k(a, b, 7, cosine=cosine), truth(a, b, 7, cosine=cosine))


@pytest.mark.parametrize("use_abs", [False, True])
@pytest.mark.parametrize("self_join", [True, False])
def test_signs_int8_and_packed_give_the_truth(use_abs, self_join):
    """+-1 rows: few distinct scores (d = 70: <a, b> in -70..70 by 2), so many ties."""
    a = signs(5, 300, 70)
    b = None if self_join else signs(6, 200, 70)
    a[10:13] = a[4]  # exact copies
    a[50] = -a[40]  # with abs, the same scores as row 40's
    want = truth(a, b, 9, abs=use_abs)
    expect_truth(hipi.top_k(a, b, 9, abs=use_abs), want, exact=True)
    pa = np.packbits(a < 0, axis=1)
    pb = None if self_join else np.packbits(b < 0, axis=1)
    expect_truth(hipi.top_k(pa, pb, 9, abs=use_abs, bits=70), want, exact=True)


def test_int8_signs_run_in_binary_mode_and_other_int8_rows_in_real_mode():
    a = signs(7, 100, 64)
    _, _, info = hipi.top_k(a, k=3, info=True)
    assert info["parameters"]["mode"] == "binary"
    _, _, info = hipi.top_k(np.packbits(a < 0, axis=1), k=3, info=True)
    assert info["parameters"]["mode"] == "binary"
    for rows, kw in ((a, dict(cosine=True)), (small_integers(8, 100), {}), (a.astype(np.float32), {}),
                     (a, dict(tau=3.0))):
        _, _, info = hipi.top_k(rows, k=3, info=True, **kw)
        assert info["parameters"]["mode"] == "real", kw
    b = a[:40].copy()
    b[3, 7] = 0  # B is not +-1: both are real rows
    D, I, info = hipi.top_k(a, b, 4, info=True)
    assert info["parameters"]["mode"] == "real"
    expect_truth((D, I), truth(a, b, 4), exact=True)


@pytest.mark.parametrize("use_abs", [False, True])
@pytest.mark.parametrize("self_join", [True, False])
def test_small_integers_with_many_exact_ties(use_abs, self_join):
    a = small_integers(9, 300)
    b = None if self_join else small_integers(10, 280)
    expect_truth(hipi.top_k(a, b, 12, abs=use_abs), truth(a, b, 12, abs=use_abs), exact=True)


def test_exact_copies_tie_and_the_smaller_j_comes_first():
    a = gaussian(11, 200)
    a[[20, 90, 150]] = a[5]  # row 5 and its three copies: every row scores them alike
    b = a[::-1].copy()
    for B in (None, b):
        D, I = hipi.top_k(a, B, 6)
        expect_truth((D, I), truth(a, B, 6))
    D, I = hipi.top_k(a, k=4)
    assert list(I[5, :3]) == [20, 90, 150] and list(I[20, :3]) == [5, 90, 150]
    assert D[5, 0] == D[5, 1] == D[5, 2]


@pytest.mark.parametrize("self_join", [True, False])
def test_a_tau_threshold_leaves_rows_fewer_than_k(self_join):
    a = clustered(12, 300)
    b = None if self_join else clustered(13, 250)
    D, I = hipi.top_k(a, b, 8, tau=0.93, cosine=True)
    want = truth(a, b, 8, cosine=True, floor=0.93)
    expect_truth((D, I), want)
    held = (I >= 0).sum(axis=1)
    assert held.min() == 0 and 0 < np.sum((held > 0) & (held < 8)) and held.max() == 8
    assert np.all(np.isneginf(D[I < 0]))
    D, I = hipi.top_k(a, b, 8, tau=18.0, abs=True)
    expect_truth((D, I), truth(a, b, 8, abs=True, floor=18.0))
    assert 0 < np.sum(I >= 0) < 8 * len(a)


def test_a_rho_threshold_on_signs():
    a = signs(14, 300, 64)
    a[100:110] = a[:10]
    a[100:110, :5] *= -1  # near-copies at <a, b> = 54
    D, I = hipi.top_k(a, k=5, rho=0.3)
    expect_truth((D, I), truth(a, None, 5, floor=np.ceil(0.3 * 64)), exact=True)
    assert 10 <= np.sum(I >= 0) < 5 * len(a)


@pytest.mark.parametrize("self_join", [True, False])
def test_k_past_the_rows_of_b_pads_every_row(self_join):
    a = gaussian(15, 30, 8)
    b = None if self_join else gaussian(16, 12, 8)
    k = 40
    D, I = hipi.top_k(a, b, k)
    expect_truth((D, I), truth(a, b, k))
    width = 29 if self_join else 12
    assert np.all(I[:, :width] >= 0) and np.all(I[:, width:] == -1) and np.all(np.isneginf(D[:, width:]))
    D, I = hipi.top_k(a[:3], a[3:4], 10**6)  # one row of B, a million columns of padding
    assert I.shape == (3, 10**6) and np.all(I[:, 0] == 0) and np.all(I[:, 1:] == -1)


def test_k_of_one_is_each_rows_best():
    a, b = gaussian(17, 250), gaussian(18, 180)
    D, I = hipi.top_k(a, b, 1)
    products = as_float64(a) @ as_float64(b).T
    assert D.shape == I.shape == (250, 1)
    np.testing.assert_array_equal(I[:, 0], np.argmax(products, axis=1))
    D, I = hipi.top_k(a, k=1)
    products = as_float64(a) @ as_float64(a).T
    np.fill_diagonal(products, -np.inf)
    np.testing.assert_array_equal(I[:, 0], np.argmax(products, axis=1))


def test_a_single_row_self_join_has_no_neighbour():
    D, I = hipi.top_k(gaussian(19, 1, 8), k=3)
    assert I.tolist() == [[-1, -1, -1]] and np.all(np.isneginf(D))


@pytest.mark.parametrize("self_join", [True, False])
def test_the_outputs_hold_the_same_lists(self_join):
    """'arrays' sorted by (i, score descending, j); 'lims' and 'csr' the same entries in the
    same order (scikit-learn's kneighbors_graph layout, values signed with abs); 'coo' too."""
    a = small_integers(20, 120)
    b = None if self_join else small_integers(21, 90)
    D, I = hipi.top_k(a, b, 5, abs=True, tau=8.0)
    pairs, values = hipi.top_k(a, b, 5, abs=True, tau=8.0, output="arrays")
    rows = (I >= 0).sum(axis=1)
    assert np.array_equal(pairs[:, 0], np.repeat(np.arange(len(a)), rows))
    assert np.array_equal(pairs[:, 1], I[I >= 0]) and np.array_equal(np.abs(values), D[I >= 0])
    assert np.any(values < 0) and np.any(rows < 5)
    lims, LD, LI = hipi.top_k(a, b, 5, abs=True, tau=8.0, output="lims")
    assert np.array_equal(lims, np.concatenate([[0], np.cumsum(rows)]))
    assert np.array_equal(LI, pairs[:, 1]) and np.array_equal(LD, values)
    m = hipi.top_k(a, b, 5, abs=True, tau=8.0, output="csr")
    n_b = len(a) if self_join else len(b)
    assert type(m).__name__ == "csr_array" and m.shape == (len(a), n_b)
    assert np.array_equal(m.indptr, lims) and np.array_equal(m.indices, LI) and np.array_equal(m.data, values)
    coo = hipi.top_k(a, b, 5, abs=True, tau=8.0, output="coo")
    assert type(coo).__name__ == "coo_array" and (coo.tocsr() != m).nnz == 0


def test_a_score_of_zero_is_an_explicit_entry_of_the_graph():
    a = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.int8)
    m = hipi.top_k(a, k=2, output="csr")
    # Row 0: row 2 (1), then row 1 (0); row 1: row 2, then row 0 (0).
    assert m.nnz == 6 and m.indices.tolist() == [2, 1, 2, 0, 0, 1] and m.data.tolist() == [1, 0, 1, 0, 1, 1]
    D, I = hipi.top_k(a, k=2)
    assert I.tolist() == [[2, 1], [2, 0], [0, 1]] and D.tolist() == [[1, 0], [1, 0], [1, 1]]


def test_faiss_index_flat_ip_search_finds_the_same_neighbours():
    """FAISS sums in float32: the index sets agree on rows whose k-th and (k+1)-th scores are
    well apart, and the scores to float32 rounding."""
    import faiss

    a, b, k = gaussian(22, 200), gaussian(23, 500), 10
    index = faiss.IndexFlatIP(a.shape[1])
    index.add(b)
    fD, fI = index.search(a, k + 1)
    D, I = hipi.top_k(a, b, k)
    np.testing.assert_allclose(D, fD[:, :k], rtol=1e-5, atol=1e-5)
    apart = fD[:, k - 1] - fD[:, k] > 1e-3
    assert apart.sum() > 150
    gap = -np.diff(fD, axis=1)  # [rows, k]: each score's lead over the next
    for i in np.flatnonzero(apart):
        assert set(I[i]) == set(fI[i, :k]), i
        # FAISS's order too, at the places whose scores are apart from both neighbours
        alone = (gap[i] > 1e-3) & np.concatenate([[True], gap[i, :k - 1] > 1e-3])
        assert np.array_equal(I[i][alone], fI[i, :k][alone]), i


def test_cosine_zero_rows_are_refused_or_skipped():
    a = clustered(24, 60)
    a[7] = 0
    with pytest.raises(ValueError, match="row 7 is all zeros"):
        hipi.top_k(a, k=3, cosine=True)
    D, I = hipi.top_k(a, k=3, cosine=True, skip_zero_rows=True)
    assert np.all(I[7] == -1) and not np.any(I == 7)
    keep = np.flatnonzero(np.arange(60) != 7)
    want = truth(a[keep], None, 3, cosine=True)
    assert np.array_equal(I[keep], np.where(want[1] >= 0, keep[np.maximum(want[1], 0)], -1))


def test_scipy_sparse_rows():
    import scipy.sparse as sp

    x = sp.random(200, 300, density=0.05, random_state=25, format="csr", dtype=np.float32)
    D, I = hipi.top_k(x, k=4, cosine=True, skip_zero_rows=True)
    dense = x.toarray()
    keep = np.flatnonzero(np.abs(dense).sum(axis=1) > 0)
    assert len(keep) == 200
    expect_truth((D, I), truth(dense, None, 4, cosine=True))


@pytest.mark.parametrize("k", [0, -3, True, False, np.bool_(True), 2.0, 2.5, "3", None, [3]])
def test_k_that_is_not_a_positive_whole_number_is_a_value_error(k):
    with pytest.raises(ValueError, match=r"k must be a positive whole number of rows, got "):
        hipi.top_k(gaussian(26, 10, 8), k=k)


def test_numpy_integers_are_a_k():
    a = gaussian(27, 40, 8)
    want = hipi.top_k(a, k=3)
    for k in (np.int64(3), np.int32(3), np.uint8(3)):
        got = hipi.top_k(a, k=k)
        assert np.array_equal(got[1], want[1]) and got[1].shape == (40, 3)


def test_other_bad_arguments_are_value_errors():
    a = gaussian(28, 20, 8)
    with pytest.raises(ValueError, match=r"B must be a matrix of rows, got 5: give k by keyword \(top_k\(A, k=5\)"):
        hipi.top_k(a, 5)
    with pytest.raises(ValueError, match="output must be one of knn, arrays, coo, csr, lims; got 'dense'"):
        hipi.top_k(a, k=3, output="dense")
    with pytest.raises(ValueError, match="exactly one of rho"):
        hipi.top_k(a, k=3, rho=0.5, tau=1.0)
    with pytest.raises(ValueError, match="does not serve"):
        hipi.top_k(a, k=3, method="sketch")
    with pytest.raises(ValueError, match="same dimension"):
        hipi.top_k(a, gaussian(29, 5, 4), k=3)
    with pytest.raises(TypeError, match="mpi4py communicator"):
        hipi.top_k(a, k=3, comm="world")
    with pytest.raises(ValueError, match="cosine"):
        hipi.top_k(np.packbits(a < 0, axis=1), k=3, cosine=True, bits=8)


def cli_top_k(hipi_bin, tmp_path, a, b, *args):
    f, out = tmp_path / "in.h5", tmp_path / "out.h5"
    with h5py.File(f, "w") as h:
        h["A"] = a
        if b is not None:
            h["B"] = b
    more = [] if b is None else ["--b", f"{f}:/B"]
    status, err = run_cli(hipi_bin, "--a", f"{f}:/A", *more, *args, "--out", str(out))
    assert status == 0, err
    return out


@pytest.mark.parametrize("self_join", [True, False])
def test_read_pairs_gives_back_the_clis_top_k_file(hipi_bin, tmp_path, self_join):
    a = clustered(30, 200)
    b = None if self_join else clustered(31, 150)
    out = cli_top_k(hipi_bin, tmp_path, a, b, "--top-k", "6", "--tau", "0.9", "--cosine", "--abs")
    f = hipi.read_pairs(out)
    D, I = hipi.top_k(a, b, 6, tau=0.9, cosine=True, abs=True)
    assert f.top_k == 6 and f.shape == (200, 200 if self_join else 150)
    assert np.array_equal(f.knn_indices, I) and np.array_equal(f.knn_scores, D)
    got = f.as_output("knn")
    assert np.array_equal(got[0], D) and np.array_equal(got[1], I)
    pairs, values = hipi.top_k(a, b, 6, tau=0.9, cosine=True, abs=True, output="arrays")
    assert np.array_equal(f.pairs, pairs) and np.array_equal(f.inner_products, values) and len(pairs) > 100
    for output in ("lims", "csr"):
        want = hipi.top_k(a, b, 6, tau=0.9, cosine=True, abs=True, output=output)
        if output == "csr":
            m = f.as_output("csr")
            assert np.array_equal(m.indptr, want.indptr) and np.array_equal(m.indices, want.indices)
            assert np.array_equal(m.data, want.data)
        else:
            assert all(np.array_equal(x, y) for x, y in zip(f.as_output("lims"), want))
    with pytest.raises(ValueError, match="symmetric=True is for a self-join's heavy pairs"):
        f.as_output("csr", symmetric=True)


def test_read_pairs_of_a_file_without_top_k(hipi_bin, tmp_path):
    a = clustered(32, 100)
    f = hipi.read_pairs(cli_top_k(hipi_bin, tmp_path, a, None, "--tau", "0.95", "--cosine"))
    assert f.top_k is None and f.knn_indices is None and f.knn_scores is None and len(f.pairs) > 0
    with pytest.raises(ValueError, match="output 'knn' is for a top-k file"):
        f.as_output("knn")


def test_read_pairs_refuses_a_top_k_file_with_damaged_lists(tmp_path):
    path = tmp_path / "k.h5"
    with h5py.File(path, "w") as h:
        h["pairs"] = np.array([[0, 1], [1, 0]], dtype=np.int64)
        h["inner_products"] = np.ones(2)
        h.attrs["rows_a"], h.attrs["rows_b"], h.attrs["top_k"] = 2, 2, 2
        h["knn_indices"] = np.array([[1, -1], [0, -1]], dtype=np.int64)
        h["knn_scores"] = np.array([[1, -np.inf], [1, -np.inf]])
    f = hipi.read_pairs(path)
    assert f.top_k == 2 and f.knn_indices.tolist() == [[1, -1], [0, -1]]
    with h5py.File(path, "r+") as h:
        h["knn_indices"][1, 1] = 2
    with pytest.raises(ValueError, match="knn_indices holds a row outside"):
        hipi.read_pairs(path)
    with h5py.File(path, "r+") as h:
        del h["knn_scores"]
        h["knn_scores"] = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"/knn_scores has shape \(2, 3\), not \(rows_a, top_k\) = \(2, 2\)"):
        hipi.read_pairs(path)
    with h5py.File(path, "r+") as h:
        del h["knn_scores"]
    with pytest.raises(ValueError, match="no /knn_indices and /knn_scores"):
        hipi.read_pairs(path)
