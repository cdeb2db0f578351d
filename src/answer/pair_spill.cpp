#include "answer/pair_spill.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/fault.hpp"
#include "runtime/progress.hpp"

namespace hipi {

namespace {

constexpr std::int64_t kMinPairs = std::int64_t{1} << 16;

}  // namespace

std::int64_t SpillLimits::lowered() {
  const char* text = std::getenv("HIPI_TEST_SPILL_PAIRS");
  const long long pairs = text ? std::atoll(text) : 0;
  return pairs > 0 ? pairs : 0;
}

SpillLimits SpillLimits::of(const MemoryBudget& budget, double more_bytes) {
  if (const std::int64_t lowered_to = lowered()) return {lowered_to, lowered_to};
  const double free = std::max(0.0, static_cast<double>(budget.bytes - resident_bytes()) - more_bytes);
  const double pair = sizeof(Pair);
  // Held while the method runs: the vector grows by doubling (old and new at once) and a
  // unit of work may add more before the next spill: a quarter of what is left.
  // A window: the rank's pairs of it, the sort's copies (received, merged) and the
  // expansion's route of them again, and the write's 48 MiB: a fifth of the rest.
  const auto held = static_cast<std::int64_t>(free / (4 * pair));
  const auto window = static_cast<std::int64_t>(std::max(0.0, free - 64.0 * (1 << 20)) / (5 * pair));
  return {std::max(kMinPairs, held), std::max(kMinPairs, window)};
}

PairSpill::PairSpill(std::string dir, std::int64_t held_limit) : dir_(std::move(dir)), held_limit_(held_limit) {
  if (dir_.empty()) dir_ = ".";
}

PairSpill::~PairSpill() {
  if (fd_ >= 0) ::close(fd_);  // the file has no name: closing it frees its blocks
}

void PairSpill::open() {
  // O_TMPFILE: a file with no name from the start. Where the file system has none, a
  // named file removed at once (a kill between the two would leave it: microseconds).
  fd_ = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    std::string name = (std::filesystem::path(dir_) / ".hipi-spill-XXXXXX").string();
    fd_ = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd_ >= 0) ::unlink(name.c_str());
  }
  if (fd_ < 0)
    throw IoError(
        fmt::format("cannot open a file in {} for the pairs past the memory budget: {}", dir_, std::strerror(errno)));
}

void PairSpill::leave_room(const MemoryBudget& budget, double more_bytes) {
  held_limit_ = std::min(held_limit_, SpillLimits::of(budget, more_bytes).held);
}

void PairSpill::hold(std::vector<Pair>& pairs) {
  if (past_limit(pairs.size())) spill(pairs);
}

void PairSpill::spill(std::vector<Pair>& pairs) {
  if (pairs.empty()) return;
  if (fd_ < 0) open();
  fault_point("spill");
  largest_run_ = std::max(largest_run_, static_cast<std::int64_t>(pairs.size()));
  if (!std::is_sorted(pairs.begin(), pairs.end(), pair_key_less)) sort_pairs(pairs);
  drop_repeated_pairs(pairs);
  Run run;
  run.first = pairs_;
  run.count = static_cast<std::int64_t>(pairs.size());
  for (std::int64_t k = 0; k < run.count; k += kSampleStep) run.samples.push_back(pairs[static_cast<std::size_t>(k)]);
  const char* data = reinterpret_cast<const char*>(pairs.data());
  const std::size_t bytes = pairs.size() * sizeof(Pair);
  auto at = static_cast<off_t>(run.first * static_cast<std::int64_t>(sizeof(Pair)));
  for (std::size_t done = 0; done < bytes;) {
    const ssize_t wrote = ::pwrite(fd_, data + done, std::min<std::size_t>(bytes - done, std::size_t{1} << 30), at);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0)
      throw IoError(fmt::format("cannot write the {} pairs past the memory budget to a file in {}: {}", run.count, dir_,
                                wrote < 0 ? std::strerror(errno) : "no space written"));
    done += static_cast<std::size_t>(wrote);
    at += wrote;
  }
  pairs_ += run.count;
  runs_.push_back(std::move(run));
  std::vector<Pair>().swap(pairs);  // its memory back now, not at the next growth
}

void PairSpill::read(const Run& run, std::int64_t at, std::int64_t count, std::vector<Pair>& out) const {
  out.resize(static_cast<std::size_t>(count));
  char* data = reinterpret_cast<char*>(out.data());
  const std::size_t bytes = out.size() * sizeof(Pair);
  auto offset = static_cast<off_t>((run.first + at) * static_cast<std::int64_t>(sizeof(Pair)));
  for (std::size_t done = 0; done < bytes;) {
    const ssize_t got = ::pread(fd_, data + done, bytes - done, offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      throw IoError(fmt::format("cannot read back the pairs spilled to a file in {}: {}", dir_,
                                got < 0 ? std::strerror(errno) : "the file is shorter than written"));
    done += static_cast<std::size_t>(got);
    offset += got;
  }
}

std::int64_t PairSpill::bound_below(std::int64_t row_end) const {
  std::int64_t bound = 0;
  for (const Run& run : runs_) {
    // Pairs from the first sample at or past the row end on are not below it.
    const auto first_past = std::lower_bound(run.samples.begin(), run.samples.end(), row_key(row_end), pair_key_less);
    const std::int64_t before =
        std::min(run.count, static_cast<std::int64_t>(first_past - run.samples.begin()) * kSampleStep);
    bound += std::max<std::int64_t>(0, before - run.taken);
  }
  return bound;
}

std::int64_t PairSpill::rows_within(std::int64_t row_begin, std::int64_t row_limit, std::int64_t max_pairs) const {
  if (row_begin + 1 >= row_limit || bound_below(row_begin + 1) > max_pairs) return std::min(row_begin + 1, row_limit);
  std::int64_t fits = row_begin + 1, past = row_limit + 1;  // bound_below(fits) <= max_pairs
  while (past - fits > 1) {
    const std::int64_t mid = fits + (past - fits) / 2;
    if (bound_below(mid) <= max_pairs)
      fits = mid;
    else
      past = mid;
  }
  return std::min(fits, row_limit);
}

void PairSpill::take_below(std::int64_t row_end, std::vector<Pair>& out) {
  HIPI_ASSERT(out.empty());
  std::vector<std::size_t> bounds{0};  // each run's part is sorted
  std::vector<Pair> block;
  for (Run& run : runs_) {
    while (run.taken < run.count) {
      read(run, run.taken, std::min(kReadBlock, run.count - run.taken), block);
      const auto end = std::lower_bound(block.begin(), block.end(), row_key(row_end), pair_key_less);
      out.insert(out.end(), block.begin(), end);
      run.taken += end - block.begin();
      if (end != block.end()) break;
    }
    bounds.push_back(out.size());
  }
  merge_sorted_runs(out, std::move(bounds));
}

SpilledAnswer::SpilledAnswer(const Comm& comm, PairSpill& spill, const Duplicates& a, const Duplicates* b,
                             const Threshold& threshold, std::int64_t window_pairs)
    : comm_(comm), spill_(spill), a_(a), b_(b), window_pairs_(std::max<std::int64_t>(1, window_pairs)) {
  const Duplicates& bb = b ? *b : a;
  if (a.none() && bb.none()) return;
  // Expansion needs every pair of representatives with copies before the first window.
  std::vector<Pair> with_copies;
  spill.each([&](const Pair& collapsed) {
    const Pair p = renamed(collapsed, a, bb);
    if (involves_copies(p, a, bb)) with_copies.push_back(p);
  });
  expansion_.emplace(comm, with_copies, a, b, threshold);
}

std::optional<PairStream> SpilledAnswer::next() {
  const std::int64_t rows = a_.distinct();
  if (next_row_ >= rows) return std::nullopt;
  fault_point("window");
  heartbeat("window");  // the watchdog's sign of life: the windows are one stage
  // The window ends where the first rank would pass its share of pairs.
  const std::int64_t mine = spill_.rows_within(next_row_, rows, window_pairs_);
  const std::int64_t end = boost::mpi::all_reduce(comm_, mine, boost::mpi::minimum<std::int64_t>());
  std::vector<Pair> local;
  spill_.take_below(end, local);
  PairSlice slice = sort_pairs_across(comm_, std::move(local));
  const std::int64_t begin = next_row_;
  HIPI_ASSERT(end > begin);  // rows_within gives every rank one row at least
  next_row_ = end;
  ++windows_;
  if (!expansion_) return PairStream::owning(std::move(slice));
  // The pairs with copies were set aside before the first window: the expansion makes them.
  rename_setting_aside_copies(slice.pairs, a_, b_ ? *b_ : a_);
  const std::int64_t first_row = a_.original(begin);
  const std::int64_t end_row = next_row_ >= rows ? a_.rows() : a_.original(next_row_);
  return expansion_->window(comm_, std::move(slice.pairs), first_row, end_row);
}

}  // namespace hipi
