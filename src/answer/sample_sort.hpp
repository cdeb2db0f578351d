// Folder answer/: the answer between the methods and the file: the sample sort, spilling past the
// budget, exact copies collapsed and expanded, checkpoints.
//
// The distributed sample sort of the answer: every rank's pairs into sorted slices, without
// gathering them anywhere.
#pragma once

#include <vector>

#include "core/problem.hpp"
#include "io/pair_file.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

/// Collective: sorts every rank's pairs into slices without gathering them anywhere (a
/// sample sort: splitters from a weighted sample of each rank's sorted pairs, one
/// all-to-all of any size). Slices hold about total / P pairs each.
PairSlice sort_pairs_across(const Comm& comm, std::vector<Pair> local);

/// The sample sort's two steps, shared with the expansion of duplicate rows (duplicates.hpp).
/// A key offered for the splitters, standing for `weight` pairs at or after it.
struct SplitterOffer {
  Pair key;
  double weight = 0;
};
/// How many offers a rank makes: clamp(2^16 / P, 1, 256) (2^16 in all at most).
std::int64_t offers_per_rank(const Comm& comm);
/// Up to offers_per_rank offers at even steps through this rank's sorted pairs.
std::vector<SplitterOffer> offers_of(const Comm& comm, const std::vector<Pair>& sorted);
/// Collective: the P - 1 (or fewer) keys that cut the weight of every rank's `mine` offers,
/// plus `shared` (the same offers on every rank, counted once), into P parts of about equal
/// weight. Rank r's part is [splitter r - 1, splitter r).
std::vector<Pair> choose_splitters(const Comm& comm, const std::vector<SplitterOffer>& mine,
                                   const std::vector<SplitterOffer>& shared = {});
/// Collective: sends each of this rank's sorted pairs to the rank whose part holds it and
/// returns this rank's part, sorted (the received runs merged).
std::vector<Pair> route_sorted(const Comm& comm, std::vector<Pair> sorted, const std::vector<Pair>& splitters);

}  // namespace hipi
