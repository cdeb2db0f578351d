# The shapes results come back in (hipi/pairs.py): output="coo", "csr" and "lims" hold
# exactly the pairs and inner products of output="arrays" (binary and real, self-join and
# A x B, an empty answer, with components and info after them; a self-join's lims, as
# FAISS's range_search, and its symmetric=True matrices in both directions), and read_pairs
# gives back what the CLI wrote, in the same shapes.
import re

import h5py
import numpy as np
import pytest

import hipi
from conftest import run_cli


def binary_rows(seed, n, d):
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=(n, d))


def real_rows(seed, n, d):
    """Rows near 12 centres, the same centres for every seed (A and B share them)."""
    centres = np.random.default_rng(0).standard_normal((12, d))
    rng = np.random.default_rng(seed)
    return (centres[rng.integers(0, 12, n)] + 0.4 * rng.standard_normal((n, d))).astype(np.float32)


# (A, B or None, threshold keyword): each with pairs, and rows of A without any.
CASES = {
    "binary_self": lambda: (binary_rows(1, 300, 64), None, {"rho": 0.35}),
    "binary_a_b": lambda: (binary_rows(2, 200, 64), binary_rows(3, 170, 64), {"rho": 0.35}),
    "real_self": lambda: (real_rows(4, 250, 16), None, {"tau": 20.0}),
    "real_a_b": lambda: (real_rows(5, 210, 16), real_rows(6, 190, 16), {"tau": 20.0}),
}


def both_directions(pairs, values):
    """A self-join's pairs (i < j) with their mirror images (j, i), sorted by (row, column)."""
    rows, cols = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
    order = np.lexsort((cols, rows))
    return np.stack([rows[order], cols[order]], axis=1), np.concatenate([values, values])[order]


def expect_same(pairs, values, matrix_or_lims, shape, output):
    """The pairs and values of one output against the arrays, entry by entry and in order."""
    if output == "lims":
        lims, D, I = matrix_or_lims
        assert lims.shape == (shape[0] + 1,) and lims[0] == 0 and lims[-1] == len(pairs)
        rows = np.repeat(np.arange(shape[0]), np.diff(lims))
        assert np.array_equal(rows, pairs[:, 0]) and np.array_equal(I, pairs[:, 1]) and np.array_equal(D, values)
        for i in range(shape[0]):  # each row's partners sorted by column
            assert np.all(np.diff(I[lims[i]:lims[i + 1]]) > 0)
        return
    m = matrix_or_lims
    assert m.shape == shape and m.nnz == len(pairs)
    assert type(m).__name__ == ("coo_array" if output == "coo" else "csr_array")
    coo = m.tocoo()
    order = np.lexsort((coo.col, coo.row))
    assert np.array_equal(coo.row[order], pairs[:, 0]) and np.array_equal(coo.col[order], pairs[:, 1])
    assert np.array_equal(coo.data[order], values)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("output", ["coo", "csr", "lims"])
def test_each_output_holds_exactly_the_arrays_pairs(case, output):
    a, b, threshold = CASES[case]()
    pairs, values = hipi.find_heavy_pairs(a, b, method="brute", **threshold)
    assert 20 < len(pairs) and len(np.unique(pairs[:, 0])) < len(a)  # some pairs, and rows without
    shape = (len(a), len(a) if b is None else len(b))
    got = hipi.find_heavy_pairs(a, b, method="brute", output=output, **threshold)
    if b is None and output == "lims":  # a self-join's lims lists each row's partners on both sides
        expect_same(*both_directions(pairs, values), got, shape, output)
    else:
        expect_same(pairs, values, got, shape, output)
    if b is None and output != "lims":  # a self-join's matrix is its upper triangle unless asked
        assert np.all(got.tocoo().row < got.tocoo().col)


def test_self_join_lims_is_faiss_range_search_of_the_rows_against_themselves():
    """FAISS's IndexFlatIP.range_search of unit rows against themselves lists every row's
    neighbours, on both sides of it (and the row itself, dropped here): hipi's self-join
    lims lists the same, with tau in a gap of the products (FAISS keeps >, hipi >=, and
    FAISS sums in float32)."""
    import faiss

    e = real_rows(12, 400, 16).astype(np.float64)
    unit = (e / np.linalg.norm(e, axis=1, keepdims=True)).astype(np.float32)
    products = unit.astype(np.float64) @ unit.astype(np.float64).T
    near = np.sort(products[np.triu_indices(len(unit), 1)])
    near = near[(near > 0.8) & (near < 0.95)]
    widest = np.argmax(np.diff(near))
    assert near[widest + 1] - near[widest] > 1e-5
    tau = float(near[widest] + near[widest + 1]) / 2
    lims, D, I = hipi.find_heavy_pairs(unit, tau=tau, method="brute", output="lims")
    index = faiss.IndexFlatIP(unit.shape[1])
    index.add(unit)
    f_lims, f_D, f_I = index.range_search(unit, tau)
    assert lims[-1] > 200 and lims[-1] == len(f_I) - len(unit)  # every row found itself
    for i in range(len(unit)):
        theirs = f_I[f_lims[i]:f_lims[i + 1]].astype(np.int64)
        want = np.sort(theirs[theirs != i])
        assert np.array_equal(I[lims[i]:lims[i + 1]], want), i
        assert np.allclose(D[lims[i]:lims[i + 1]], products[i, want], rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", ["binary_self", "real_self"])
@pytest.mark.parametrize("output", ["coo", "csr"])
def test_symmetric_matrix_is_the_upper_triangle_plus_its_transpose(case, output):
    a, _, threshold = CASES[case]()
    upper = hipi.find_heavy_pairs(a, method="brute", output="csr", **threshold)
    m = hipi.find_heavy_pairs(a, method="brute", output=output, symmetric=True, **threshold)
    assert type(m).__name__ == f"{output}_array" and m.shape == upper.shape and m.nnz == 2 * upper.nnz > 40
    got, want = m.tocsr(), (upper + upper.T).tocsr()
    got.sort_indices()
    want.sort_indices()
    assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.data, want.data)
    if output == "csr":  # as built: rows' columns ascending
        assert np.array_equal(m.indices, want.indices) and np.array_equal(m.data, want.data)


def test_symmetric_is_refused_where_it_means_nothing():
    a, b = binary_rows(1, 30, 64), binary_rows(2, 20, 64)
    with pytest.raises(ValueError, match="symmetric=True is for a self-join"):
        hipi.find_heavy_pairs(a, b, rho=0.35, output="csr", symmetric=True)
    with pytest.raises(ValueError, match="symmetric=True is for output"):
        hipi.find_heavy_pairs(a, rho=0.35, symmetric=True)
    with pytest.raises(ValueError, match="symmetric=True is for a self-join"):
        hipi.as_output(np.zeros((0, 2), np.int64), np.zeros(0), (30, 30), "csr", symmetric=True)


@pytest.mark.parametrize("output", ["coo", "csr", "lims"])
def test_an_empty_answer_has_the_full_shape(output):
    a, b = binary_rows(7, 40, 64), binary_rows(8, 30, 64)
    got = hipi.find_heavy_pairs(a, b, rho=0.95, output=output)
    expect_same(np.zeros((0, 2), np.int64), np.zeros(0), got, (40, 30), output)


def test_components_and_info_follow_the_output():
    a = real_rows(9, 200, 16)
    pairs, values, labels, info = hipi.find_heavy_pairs(a, tau=0.95, cosine=True, components=True, info=True)
    m, labels_coo, info_coo = hipi.find_heavy_pairs(a, tau=0.95, cosine=True, components=True, info=True,
                                                    output="csr")
    expect_same(pairs, values, m, (200, 200), "csr")
    assert np.array_equal(labels, labels_coo) and info_coo["total"] == info["total"] == len(pairs)
    assert set(info["kernels"]) == {"exact", "blas"} and all(info["kernels"].values())  # what ran, named
    lims, D, I, labels_lims = hipi.find_heavy_pairs(a, tau=0.95, cosine=True, components=True, output="lims")
    expect_same(*both_directions(pairs, values), (lims, D, I), (200, 200), "lims")
    assert np.array_equal(labels, labels_lims)


def same_output(got, want, output):
    """Two results of one output: equal entries (matrices) or equal arrays (arrays, lims)."""
    if output in ("coo", "csr"):
        assert type(got) is type(want) and got.shape == want.shape and (got != want).nnz == 0
    else:
        assert len(got) == len(want) and all(np.array_equal(x, y) for x, y in zip(got, want))


@pytest.mark.parametrize("output", hipi.OUTPUTS)
def test_lists_are_taken_as_numpy_takes_them(output):
    """Anything numpy.asarray takes is an array: lists of integers (real mode, and +-1 with
    rho), tuples, a list B beside an array A, and lists into as_output."""
    rows = [[1, 0], [0, 1], [1, 1]]
    pairs, values = hipi.find_heavy_pairs(np.array(rows, dtype=np.float32), tau=0.5)
    assert np.array_equal(pairs, [[0, 2], [1, 2]])
    want = hipi.find_heavy_pairs(np.array(rows, dtype=np.float32), tau=0.5, output=output)
    same_output(hipi.find_heavy_pairs(rows, tau=0.5, output=output), want, output)
    same_output(hipi.find_heavy_pairs(tuple(map(tuple, rows)), tau=0.5, output=output), want, output)
    same_output(hipi.as_output(pairs.tolist(), values.tolist(), (3, 3), output),
                hipi.as_output(pairs, values, (3, 3), output), output)
    signs = [[1, -1, 1, 1], [1, -1, 1, -1], [-1, 1, -1, -1]]
    want = hipi.find_heavy_pairs(np.array(signs, np.int8), np.array(signs[:2], np.int8), rho=0.5, output=output)
    same_output(hipi.find_heavy_pairs(signs, signs[:2], rho=0.5, output=output), want, output)
    same_output(hipi.find_heavy_pairs(np.array(signs, np.int8), signs[:2], rho=0.5, output=output), want, output)


def test_read_pairs_refuses_pairs_outside_the_shape_it_records(tmp_path):
    def write(name, pairs, rows_a, rows_b):
        path = tmp_path / name
        with h5py.File(path, "w") as h:
            h["pairs"] = np.array(pairs, dtype=np.int64).reshape(-1, 2)
            h["inner_products"] = np.ones(len(pairs))
            h.attrs["rows_a"], h.attrs["rows_b"] = rows_a, rows_b
        return path

    assert hipi.read_pairs(write("fits.h5", [[0, 3], [2, 1]], 3, 4)).shape == (3, 4)
    for name, pairs, where in (("j.h5", [[0, 3], [1, 4]], r"\(1, 4\).*rows_b = 4"),
                               ("i.h5", [[3, 0]], r"\(3, 0\).*rows_a = 3"),
                               ("negative.h5", [[0, 1], [-1, 2]], r"\(-1, 2\)")):
        path = write(name, pairs, 3, 4)
        with pytest.raises(ValueError, match=re.escape(str(path)) + f": pair {where}"):
            hipi.read_pairs(path)
    path = write("short.h5", [[0, 3], [2, 1]], 3, 4)
    with h5py.File(path, "r+") as h:
        del h["inner_products"]
        h["inner_products"] = np.ones(1)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ": 2 pairs but 1 inner products"):
        hipi.read_pairs(path)


def test_an_unknown_output_is_a_value_error_before_any_solve():
    with pytest.raises(ValueError, match="output must be one of arrays, coo, csr, lims; got 'dense'"):
        hipi.find_heavy_pairs(binary_rows(1, 10, 64), rho=0.5, output="dense")


@pytest.mark.parametrize("self_join", [True, False])
def test_read_pairs_gives_back_what_the_cli_wrote(hipi_bin, tmp_path, self_join):
    a, b = real_rows(10, 300, 16), real_rows(11, 120, 16)
    f, out = tmp_path / "in.h5", tmp_path / "out.h5"
    with h5py.File(f, "w") as h:
        h["A"], h["B"] = a, b
    args = ["--a", f"{f}:/A", "--tau", "0.95", "--cosine", "--method", "brute", "--out", str(out)]
    args += ["--components"] if self_join else ["--b", f"{f}:/B"]
    status, err = run_cli(hipi_bin, *args)
    assert status == 0, err
    got = hipi.read_pairs(out)
    pairs, values, *labels = hipi.find_heavy_pairs(a, None if self_join else b, tau=0.95, cosine=True,
                                                   components=self_join, method="brute")
    assert np.array_equal(got.pairs, pairs) and np.array_equal(got.inner_products, values) and len(pairs) > 20
    assert got.shape == (300, 300 if self_join else 120)
    assert got.attrs["measure"] == "cosine" and got.attrs["parameters"]["self_join"] == self_join
    assert got.attrs["threshold"] == 0.95 and got.attrs["method"] == "brute"
    if self_join:
        assert np.array_equal(got.components, labels[0])
    else:
        assert got.components is None
    for output in ("coo", "csr"):
        expect_same(pairs, values, got.as_output(output), got.shape, output)
    mirrored = both_directions(pairs, values) if self_join else (pairs, values)
    expect_same(*mirrored, got.as_output("lims"), got.shape, "lims")
    if self_join:
        expect_same(*mirrored, got.as_output("csr", symmetric=True), got.shape, "csr")


def test_read_pairs_refuses_a_file_that_is_not_an_output(tmp_path):
    f = tmp_path / "rows.h5"
    with h5py.File(f, "w") as h:
        h["A"] = binary_rows(1, 4, 8)
    with pytest.raises(ValueError, match="not an output file of hipi"):
        hipi.read_pairs(f)
