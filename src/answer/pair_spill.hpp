// An answer larger than the memory budget: each rank spills its pairs to disk in sorted
// runs while the method finds them, and the output is made from the runs one window of
// rows at a time, so that no rank ever holds more than its share of pairs (issue 13 item 2).
//
// The runs live in an unnamed file in the output's directory (O_TMPFILE, or a file removed
// as soon as it is opened): a kill at any moment leaves no file behind, and the disk that
// will hold the answer holds its runs. Each run keeps every kSampleStep-th key in memory, so
// the rows of the next window are bounded without reading the disk.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "answer/copy_expansion.hpp"
#include "answer/sample_sort.hpp"
#include "core/problem.hpp"
#include "io/pair_file.hpp"
#include "parallel/mpi.hpp"
#include "runtime/memory.hpp"

namespace hipi {

/// How many pairs a rank holds before it spills them, and how many a window of the output
/// may take from one rank: from the budget left now (memory.hpp), at least 2^16. The test
/// variable HIPI_TEST_SPILL_PAIRS lowers both (the spilled path at small sizes).
struct SpillLimits {
  std::int64_t held = 0;    // pairs held while the method runs
  std::int64_t window = 0;  // pairs a rank contributes to one window of the output
  /// `more_bytes`: what the caller is about to allocate besides the pairs.
  static SpillLimits of(const MemoryBudget& budget, double more_bytes = 0);
  /// HIPI_TEST_SPILL_PAIRS, or 0.
  static std::int64_t lowered();
};

/// This rank's spilled pairs: sorted runs without repeats, in an unnamed file.
class PairSpill {
 public:
  static constexpr std::int64_t kSampleStep = 4096;

  /// Runs go to a file in `dir`, opened at the first spill; `held_limit` pairs is when hold() spills.
  PairSpill(std::string dir, std::int64_t held_limit);
  PairSpill(const PairSpill&) = delete;
  PairSpill& operator=(const PairSpill&) = delete;
  ~PairSpill();

  /// Spills `pairs` (and empties it) once it holds held_limit pairs or more.
  void hold(std::vector<Pair>& pairs);
  /// hold() for a method, called every half of held_limit pairs: a rank holds at most 1.5x it.
  PairHolder holder() {
    return {[this](std::vector<Pair>& pairs) { hold(pairs); }, held_limit_ / 2};
  }
  /// True when `held` pairs are as many as hold() keeps in memory, or more.
  bool past_limit(std::size_t held) const { return static_cast<std::int64_t>(held) >= held_limit_; }
  std::int64_t held_limit() const { return held_limit_; }
  /// Lowers the held limit to what the budget leaves now, after `more_bytes` more (rows
  /// read, a method's index and ring buffers): the limit at start-up counted memory these
  /// take later. Never raises it. Not collective.
  void leave_room(const MemoryBudget& budget, double more_bytes);
  /// Sorts `pairs`, drops repeats, appends them as a run and empties `pairs` (its memory freed).
  void spill(std::vector<Pair>& pairs);
  /// Pairs spilled so far (repeats within a run dropped).
  std::int64_t pairs() const { return pairs_; }
  bool spilled() const { return !runs_.empty(); }
  /// The most pairs spill() was given at once (repeats included): what the rank held.
  std::int64_t largest_run() const { return largest_run_; }
  std::size_t runs() const { return runs_.size(); }
  const std::string& dir() const { return dir_; }

  /// At most how many pairs not yet taken have row i < `row_end` (from the runs' samples,
  /// never less than the truth).
  std::int64_t bound_below(std::int64_t row_end) const;
  /// The largest row end past `row_begin` (at most `row_limit`) whose pairs not yet taken
  /// are at most `max_pairs` by bound_below; row_begin + 1 when even that row has more.
  std::int64_t rows_within(std::int64_t row_begin, std::int64_t row_limit, std::int64_t max_pairs) const;
  /// Fills `out` (empty) with every pair not yet taken with row i < `row_end`, sorted, and
  /// marks them taken.
  void take_below(std::int64_t row_end, std::vector<Pair>& out);
  /// Calls f(pair) for every spilled pair, run by run (the cursors do not move).
  template <class F>
  void each(F&& f) const {
    std::vector<Pair> block;
    for (const Run& run : runs_)
      for (std::int64_t at = 0; at < run.count; at += kReadBlock) {
        read(run, at, std::min(kReadBlock, run.count - at), block);
        for (const Pair& p : block) f(p);
      }
  }

 private:
  struct Run {
    std::int64_t first = 0;     // index of its first pair in the file
    std::int64_t count = 0;     // pairs
    std::int64_t taken = 0;     // pairs already taken
    std::vector<Pair> samples;  // pair k * kSampleStep of the run, k = 0, 1, ...
  };
  static constexpr std::int64_t kReadBlock = std::int64_t{1} << 16;
  void open();
  void read(const Run& run, std::int64_t at, std::int64_t count, std::vector<Pair>& out) const;
  std::string dir_;
  std::int64_t held_limit_ = 0;
  int fd_ = -1;
  std::int64_t pairs_ = 0;  // in the file
  std::int64_t largest_run_ = 0;
  std::vector<Run> runs_;
};

/// The answer from every rank's spilled runs, one window of rows at a time: each window
/// sorted across ranks (as sort_pairs_across) with copies expanded (as expand_duplicates),
/// holding at most about limits.window pairs per rank (one row more only when a single row
/// of a rank's runs has more pairs than that).
class SpilledAnswer {
 public:
  /// Collective. `spill` holds every pair of this rank (in collapsed rows); `b` null in a self-join.
  SpilledAnswer(const Comm& comm, PairSpill& spill, const Duplicates& a, const Duplicates* b,
                const Threshold& threshold, std::int64_t window_pairs);
  /// Collective: the next window's stream (its offset and total within the window), or
  /// nothing once every row is done (on every rank at once). One window at least when rows exist.
  std::optional<PairStream> next();
  std::int64_t windows() const { return windows_; }

 private:
  const Comm& comm_;
  PairSpill& spill_;
  const Duplicates& a_;
  const Duplicates* b_;
  std::optional<CopyExpansion> expansion_;
  std::int64_t window_pairs_ = 0;
  std::int64_t next_row_ = 0;  // collapsed rows of A before it are done
  std::int64_t windows_ = 0;
};

}  // namespace hipi
