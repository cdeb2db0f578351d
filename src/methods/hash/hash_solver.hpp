// Folder methods/hash/: exact multi-index hashing for binary data: the index, the run over the
// ranks, its measured cost.
//
// Exact multi-index hashing over MPI ranks (binary data; multi_index.hpp).
//
// Every rank indexes the substrings of its own block of B (of A in a self-join); the
// blocks of A travel the ring of ranks, and each of their rows probes the local index.
// Candidates are deduplicated per query and verified with the exact kernel, so the result
// is exactly brute force's. Fast where the threshold is high (a small Hamming radius) and
// buckets are small; auto prices it from the occupancy it measures (hash_method.cpp).
#pragma once

#include <memory>
#include <vector>

#include "core/bit_matrix.hpp"
#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "methods/hash/multi_index.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

/// What a hash run did, on this rank.
struct HashRun {
  std::vector<Pair> pairs;      // this rank's share (what the holder did not take), unsorted; every pair once
  SubstringLayout layout;       // the same on every rank
  std::int64_t candidates = 0;  // (query, indexed row) verifications here, once per agreeing substring
};

/// Collective. Heavy pairs between A and B (`b` null: the self-join of A, pairs i < j).
/// `threshold.abs` also probes the complement of each query (|<a,b>| >= theta). `built`:
/// this rank's index of these very rows from predict_hash_seconds, if kept (the caller
/// checks the rows' fingerprint; a different layout is rebuilt here).
/// `holder`, if set, is handed the run's pairs as they grow (then `pairs` holds the rest).
HashRun hash_solve(const Comm& comm, const LocalRows<BitMatrix>& a, const LocalRows<BitMatrix>* b,
                   const Threshold& threshold, std::shared_ptr<const MultiIndex> built = nullptr,
                   const PairHolder& holder = {});

/// What hash_solve holds on this rank besides the rows: its index of `indexed` under the
/// agreed layout (MultiIndex::bytes_for) and the ring's buffers for blocks of `a` (up to
/// two of the largest). Collective (the layout and the largest block are agreed).
struct HashFootprint {
  std::int64_t index_bytes = 0;
  std::int64_t ring_bytes = 0;
  std::int64_t indexed_rows = 0;  // this rank's: at most MultiIndex::kMaxRows
};
HashFootprint hash_footprint(const Comm& comm, const LocalRows<BitMatrix>& a, const LocalRows<BitMatrix>& indexed,
                             const Threshold& threshold);

/// Collective. Predicted seconds of hash_solve's compute on these rows, measured: every
/// rank indexes its block and times kHashSampleQueries rows of A drawn at random from all of
/// A (seeded by `seed`: the same rows for any rank count) as queries (so skewed buckets,
/// near-duplicates crowding a few keys, are priced as they are), scaled to all n_a queries;
/// the slowest rank's. Infinite where the cut already predicts scanning a quarter of the
/// index per query (brute force's ground).
constexpr std::int64_t kHashSampleQueries = 1024;
/// `built`, if given, receives the index it built, for hash_solve on the same rows.
double predict_hash_seconds(const Comm& comm, const LocalRows<BitMatrix>& a, std::int64_t n_a,
                            const LocalRows<BitMatrix>& indexed, const Threshold& threshold, std::uint64_t seed,
                            std::shared_ptr<const MultiIndex>* built = nullptr);

}  // namespace hipi
