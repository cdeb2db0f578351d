# The Python module over MPI ranks (run under mpirun: tests/CMakeLists.txt runs it at 2 and
# 3 ranks): each rank passes its block of rows, in rank order, with an mpi4py communicator;
# the answer equals the one-rank answer of the whole matrix, delivered on every rank or as
# consecutive slices.
import numpy as np
import pytest
from mpi4py import MPI

import hipi

comm = MPI.COMM_WORLD


def blocks(n, parts):
    """Uneven contiguous blocks (rank 0 holds none when there are 3 or more ranks)."""
    cuts = [0] + sorted(np.random.default_rng(11).integers(0, n, size=parts - 1).tolist()) + [n]
    if parts >= 3:
        cuts[1] = 0
    return [(cuts[r], cuts[r + 1]) for r in range(parts)]


@pytest.mark.parametrize("method", ["brute", "sketch", "auto"])
@pytest.mark.parametrize("self_join", [True, False])
def test_row_blocks_over_ranks_give_the_whole_answer(method, self_join):
    rng = np.random.default_rng(12)
    a = rng.choice(np.array([-1, 1], dtype=np.int8), size=(1500, 128))
    b = a.copy() if self_join else rng.choice(np.array([-1, 1], dtype=np.int8), size=(1200, 128))
    for k in range(0, 1000, 40):  # planted pairs at <a, b> = 0.8 d
        row = a[k].copy()
        row[rng.choice(128, size=13, replace=False)] *= -1
        b[1000 + k // 40 if self_join else k + 100] = row
    if self_join:
        a = b
    whole = hipi.find_heavy_pairs(a, None if self_join else b, rho=0.6, method="brute", comm=MPI.COMM_SELF)
    lo, hi = blocks(len(a), comm.size)[comm.rank]
    blo, bhi = blocks(len(b), comm.size)[comm.rank]
    mine_b = None if self_join else b[blo:bhi]
    pairs, ips = hipi.find_heavy_pairs(a[lo:hi], mine_b, rho=0.6, method=method, comm=comm)
    assert len(whole[0]) >= 25
    np.testing.assert_array_equal(pairs, whole[0])
    np.testing.assert_array_equal(ips, whole[1])

    part, part_ips, info = hipi.find_heavy_pairs(a[lo:hi], mine_b, rho=0.6, method=method, comm=comm,
                                                 delivery="distributed", info=True)
    slices = comm.allgather((info["offset"], part, part_ips))
    assert info["total"] == len(whole[0])
    assert [s[0] for s in slices] == list(np.cumsum([0] + [len(s[1]) for s in slices[:-1]]))
    np.testing.assert_array_equal(np.concatenate([s[1] for s in slices]), whole[0])


def test_blocks_of_different_columns_are_refused_on_every_rank():
    if comm.size < 2:
        pytest.skip("needs two ranks")
    # Rank 0's block has 8 columns, the others 16: hipi agrees on the refusal.
    mine = np.ones((10, 8 if comm.rank == 0 else 16), dtype=np.int8)
    with pytest.raises(ValueError, match="same columns and type"):
        hipi.find_heavy_pairs(mine, rho=0.5, comm=comm)
    comm.Barrier()  # every rank came back from the refusal


def test_an_array_one_rank_alone_refuses_is_refused_on_every_rank():
    if comm.size < 2:
        pytest.skip("needs two ranks")
    # The last rank passes a 1-D array: the module refuses it there before any collective
    # call; without agreeing, the other ranks would wait for it forever.
    mine = np.ones(10, dtype=np.int8) if comm.rank == comm.size - 1 else np.ones((10, 8), dtype=np.int8)
    with pytest.raises(ValueError, match="must be 2-D"):
        hipi.find_heavy_pairs(mine, rho=0.5, comm=comm)
    comm.Barrier()


def test_a_csr_block_one_rank_alone_holds_wrong_is_refused_on_every_rank():
    if comm.size < 2:
        pytest.skip("needs two ranks")
    # The last rank's indptr runs past its entries: it refuses before reading them, and the
    # others hear its message rather than wait in a collective or read nothing wrong.
    import scipy.sparse as sp

    mine = sp.random(40, 300, density=0.05, random_state=15 + comm.rank, format="csr", dtype=np.float32)
    if comm.rank == comm.size - 1:
        mine.indptr[1:] += 10**6
    for method in ("sparse", "brute"):
        with pytest.raises(ValueError, match="A: indptr spans .* entries .*, but indices and data hold"):
            hipi.find_heavy_pairs(mine, tau=0.5, method=method, comm=comm)
    comm.Barrier()


@pytest.mark.parametrize("delivery", ["every_rank", "distributed"])
def test_components_over_ranks_equal_the_one_rank_labels(delivery):
    rng = np.random.default_rng(13)
    centres = rng.standard_normal((20, 16))
    a = (centres[rng.integers(0, 20, 600)] + 0.4 * rng.standard_normal((600, 16))).astype(np.float32)
    whole = hipi.find_heavy_pairs(a, tau=0.9, cosine=True, components=True, method="brute", comm=MPI.COMM_SELF)
    lo, hi = blocks(len(a), comm.size)[comm.rank]
    _, _, labels, info = hipi.find_heavy_pairs(a[lo:hi], tau=0.9, cosine=True, components=True, method="brute",
                                               comm=comm, delivery=delivery, info=True)
    first = info["components_first"]
    assert np.sum(whole[2] != np.arange(len(a))) > 50
    np.testing.assert_array_equal(labels, whole[2][first:first + len(labels)])
    assert comm.allreduce(len(labels)) == (len(a) if delivery == "distributed" else comm.size * len(a))


@pytest.mark.parametrize("self_join", [True, False])
def test_sparse_row_blocks_over_ranks_give_the_whole_answer(self_join):
    """scipy.sparse blocks of rows (rank 0's empty at 3 ranks) through the sparse join equal
    one rank's answer of the whole matrix, bit for bit."""
    import scipy.sparse as sp

    x = sp.random(900, 3000, density=0.004, random_state=14, format="csr", dtype=np.float32)
    x = sp.vstack([x, x[:60] * 1.01]).tocsr()  # near-copies: heavy pairs
    b = None if self_join else x[::2]
    kw = dict(tau=0.7, cosine=True, skip_zero_rows=True, method="sparse")
    whole = hipi.find_heavy_pairs(x, b, comm=MPI.COMM_SELF, **kw)
    lo, hi = blocks(x.shape[0], comm.size)[comm.rank]
    mine_b = None if self_join else b[slice(*blocks(b.shape[0], comm.size)[comm.rank])]
    pairs, values = hipi.find_heavy_pairs(x[lo:hi], mine_b, comm=comm, **kw)
    assert len(whole[0]) >= 50
    np.testing.assert_array_equal(pairs, whole[0])
    np.testing.assert_array_equal(values, whole[1])


def test_firing_set_on_each_rank_is_that_ranks_own():
    # Under mpirun each rank keeps the firing set of its own neurons and inputs (the hipi
    # runs inside go over MPI.COMM_SELF): ranks hold different W and X, of different sizes.
    rng = np.random.default_rng(30 + comm.rank)
    m, n, d, b = 200 + 50 * comm.rank, 150 + 20 * comm.rank, 32, 1.5
    X = rng.standard_normal((n, d)).astype(np.float32)
    W = (rng.standard_normal((m, d)) / np.sqrt(d)).astype(np.float32)
    fs = hipi.FiringSet(W, X, b)
    W = W + (rng.standard_normal((m, d)) * 1e-2).astype(np.float32)
    fs.update(W)
    r, i = np.nonzero(W.astype(np.float64) @ X.astype(np.float64).T > b)
    assert len(r) > 0
    np.testing.assert_array_equal(fs.pairs[0], r)
    np.testing.assert_array_equal(fs.pairs[1], i)


@pytest.mark.parametrize("delivery", ["every_rank", "distributed"])
def test_outputs_over_ranks_have_the_whole_answers_shape(delivery):
    """With comm, the shape counts every rank's rows; a distributed slice's matrices (and
    lims) hold this rank's pairs, which together are the whole answer."""
    rng = np.random.default_rng(14)
    a = rng.choice(np.array([-1, 1], dtype=np.int8), size=(700, 64))
    b = rng.choice(np.array([-1, 1], dtype=np.int8), size=(500, 64))
    whole, whole_ips = hipi.find_heavy_pairs(a, b, rho=0.35, method="brute", comm=MPI.COMM_SELF)
    lo, hi = blocks(len(a), comm.size)[comm.rank]
    blo, bhi = blocks(len(b), comm.size)[comm.rank]
    m = hipi.find_heavy_pairs(a[lo:hi], b[blo:bhi], rho=0.35, method="brute", comm=comm, delivery=delivery,
                              output="csr")
    lims, D, I = hipi.find_heavy_pairs(a[lo:hi], b[blo:bhi], rho=0.35, method="brute", comm=comm,
                                       delivery=delivery, output="lims")
    assert m.shape == (700, 500) and lims.shape == (701,) and len(whole) > 20
    coo = m.tocoo()
    mine = np.stack([coo.row, coo.col], axis=1)[np.lexsort((coo.col, coo.row))]
    assert np.array_equal(I, mine[:, 1]) and np.array_equal(np.repeat(np.arange(700), np.diff(lims)), mine[:, 0])
    got = np.concatenate(comm.allgather(mine)) if delivery == "distributed" else mine
    np.testing.assert_array_equal(got, whole)
    assert np.array_equal(np.concatenate(comm.allgather(D)) if delivery == "distributed" else D, whole_ips)


@pytest.mark.parametrize("delivery", ["every_rank", "distributed"])
def test_a_self_joins_outputs_in_both_directions_over_ranks(delivery):
    """A self-join's lims and symmetric=True matrix over ranks: every rank's the whole
    symmetric answer, or (distributed) its slice's pairs in both directions, which together
    are the whole."""
    rng = np.random.default_rng(16)
    a = rng.choice(np.array([-1, 1], dtype=np.int8), size=(600, 64))
    upper = hipi.find_heavy_pairs(a, rho=0.35, method="brute", output="csr", comm=MPI.COMM_SELF)
    whole = (upper + upper.T).tocsr()
    lo, hi = blocks(len(a), comm.size)[comm.rank]
    m = hipi.find_heavy_pairs(a[lo:hi], rho=0.35, method="brute", comm=comm, delivery=delivery, output="csr",
                              symmetric=True)
    lims, D, I = hipi.find_heavy_pairs(a[lo:hi], rho=0.35, method="brute", comm=comm, delivery=delivery,
                                       output="lims")
    assert m.shape == (600, 600) and lims.shape == (601,) and upper.nnz > 20
    assert np.array_equal(lims, m.indptr) and np.array_equal(I, m.indices) and np.array_equal(D, m.data)
    got = sum(comm.allgather(m)) if delivery == "distributed" else m
    assert (got != whole).nnz == 0 and got.nnz == 2 * upper.nnz


@pytest.mark.parametrize("rows", ["gaussian", "signs", "signs_and_a_zero", "packed"])
@pytest.mark.parametrize("self_join", [True, False])
def test_top_k_over_ranks_equals_one_rank(rows, self_join):
    """hipi.top_k with each rank's block of rows (rank 0's empty at 3 ranks) gives every rank
    the one-rank answer, bit for bit, in each output. Without a threshold int8 rows are +-1
    (binary mode) only when every rank's are: one rank's 0 makes every rank's rows real."""
    rng = np.random.default_rng(17)
    if rows == "gaussian":
        a, b, kw = rng.standard_normal((500, 24)).astype(np.float32), rng.standard_normal((300, 24)), {}
    else:
        a = rng.choice(np.array([-1, 1], dtype=np.int8), size=(500, 64))
        b = rng.choice(np.array([-1, 1], dtype=np.int8), size=(300, 64))
        a[200:210] = a[:10]  # exact copies: ties
        kw = {}
        if rows == "signs_and_a_zero":
            a[450, 3] = 0  # on one rank's block only
        if rows == "packed":
            a, b, kw = np.packbits(a < 0, axis=1), np.packbits(b < 0, axis=1), {"bits": 64}
    if self_join:
        b = None
    whole = hipi.top_k(a, b, 8, comm=MPI.COMM_SELF, info=True, **kw)
    lo, hi = blocks(len(a), comm.size)[comm.rank]
    mine_b = None if self_join else b[slice(*blocks(len(b), comm.size)[comm.rank])]
    D, I, info = hipi.top_k(a[lo:hi], mine_b, 8, comm=comm, info=True, **kw)
    mode = "real" if rows in ("gaussian", "signs_and_a_zero") else "binary"
    assert info["parameters"]["mode"] == whole[2]["parameters"]["mode"] == mode
    assert D.shape == (500, 8) and np.all(I >= 0)
    np.testing.assert_array_equal(I, whole[1])
    np.testing.assert_array_equal(D, whole[0])
    for output in ("csr", "lims"):
        got = hipi.top_k(a[lo:hi], mine_b, 8, comm=comm, output=output, **kw)
        want = hipi.top_k(a, b, 8, comm=MPI.COMM_SELF, output=output, **kw)
        if output == "csr":
            assert got.shape == want.shape and np.array_equal(got.indptr, want.indptr)
            got, want = (got.indices, got.data), (want.indices, want.data)
        assert all(np.array_equal(x, y) for x, y in zip(got, want))


def test_top_k_with_a_threshold_over_ranks_equals_one_rank():
    rng = np.random.default_rng(18)
    centres = rng.standard_normal((10, 16))
    a = (centres[rng.integers(0, 10, 400)] + 0.5 * rng.standard_normal((400, 16))).astype(np.float32)
    whole = hipi.top_k(a, k=6, tau=0.9, cosine=True, comm=MPI.COMM_SELF)
    lo, hi = blocks(len(a), comm.size)[comm.rank]
    D, I = hipi.top_k(a[lo:hi], k=6, tau=0.9, cosine=True, comm=comm)
    assert 0 < np.sum(I >= 0) < I.size
    np.testing.assert_array_equal(I, whole[1])
    np.testing.assert_array_equal(D, whole[0])
