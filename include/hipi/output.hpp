// Writing results: sort the pairs across ranks, write every rank's slice in parallel, atomically.
//
// A failed run never leaves a file at the output path: output is written to a temporary
// file beside it and renamed into place only when complete (DESIGN.md section 5).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hipi/mpi.hpp"
#include "hipi/problem.hpp"

namespace hipi {

namespace h5 {
class File;
}

/// "HOST-PID" of this process: the suffix of its temporary files, so that a later run can
/// tell whether the process that left one is gone.
std::string temp_suffix();

/// Collective: rank 0's temp_suffix(), on every rank: every rank that writes into one
/// temporary file holds an AtomicPath of that name, so whichever fails removes the file.
std::string shared_temp_suffix(const Comm& comm);

/// A temporary path beside `final_path` (.NAME.hipi-tmp-SUFFIX), removed on destruction
/// unless commit() renamed it to `final_path`.
class AtomicPath {
 public:
  explicit AtomicPath(std::string final_path, const std::string& unique_suffix = temp_suffix());
  AtomicPath(const AtomicPath&) = delete;
  AtomicPath& operator=(const AtomicPath&) = delete;
  ~AtomicPath();
  const std::string& temp() const { return temp_; }
  const std::string& final_path() const { return final_; }
  /// Renames the temporary file to the final path.
  void commit();

 private:
  std::string final_, temp_;
  bool committed_ = false;
};

/// Temporary files a killed run left beside `final_path` (SIGKILL runs no destructor):
/// those of a process of this host that no longer runs are removed and logged; those of
/// another host, or of a process still running, are only reported (a warning). Call on one
/// rank before writing `final_path`.
void remove_stale_temps(const std::string& final_path);

/// Writes `text` to `out.temp()`, closes it and checks it is complete; throws IoError
/// naming `what` and the final path otherwise (a full disk shows only at flush or close).
void write_text_temp(const AtomicPath& out, const std::string& text, const std::string& what);

/// Writes `text` to `path` atomically (a temporary file beside it, renamed into place only
/// once it is closed and checked complete); throws IoError naming `what` and the path if
/// any write, flush or close fails (a full disk shows only at flush or close), leaving
/// nothing at `path`.
void write_text_atomically(const std::string& path, const std::string& text, const std::string& what);

/// Throws InputError unless a file can be created at `path` (its directory exists and is
/// writable, and `path` is not a directory), so that a long run does not fail at the end.
/// `option` names the option in the message ("--out").
void check_output_path(const std::string& path, const std::string& option);

/// A path given to an option: {"--out", "run.h5"}.
struct NamedPath {
  std::string option;
  std::string path;
};

/// Throws InputError when an output names an input or an earlier output: the same file by
/// device and inode when both exist (hard links, other spellings), otherwise the same
/// absolute path. So no run replaces what it reads or writes one output over another.
void check_outputs_distinct(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs);

/// This rank's slice of the answer after a distributed sort: all ranks' pairs ordered by
/// (i, j) across ranks (rank r's slice comes before rank r + 1's), with repeats of the
/// same (i, j) removed (methods that may verify a pair twice leave them).
struct PairSlice {
  std::vector<Pair> pairs;  // this rank's, sorted
  std::int64_t offset = 0;  // index of pairs[0] in the whole answer
  std::int64_t total = 0;   // pairs in the whole answer, on every rank
};

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
/// Up to clamp(2^16 / P, 1, 256) offers at even steps through this rank's sorted pairs.
std::vector<SplitterOffer> offers_of(const Comm& comm, const std::vector<Pair>& sorted);
/// Collective: the P - 1 (or fewer) keys that cut the weight of every rank's `mine` offers,
/// plus `shared` (the same offers on every rank, counted once), into P parts of about equal
/// weight. Rank r's part is [splitter r - 1, splitter r).
std::vector<Pair> choose_splitters(const Comm& comm, const std::vector<SplitterOffer>& mine,
                                   const std::vector<SplitterOffer>& shared = {});
/// Collective: sends each of this rank's sorted pairs to the rank whose part holds it and
/// returns this rank's part, sorted (the received runs merged).
std::vector<Pair> route_sorted(const Comm& comm, std::vector<Pair> sorted, const std::vector<Pair>& splitters);

/// This rank's part of the answer made piece by piece in output order: `count` pairs that go
/// at `offset` of the `total` in the answer; next(piece, max) appends up to `max` of them.
/// The answer need not be held anywhere at once (duplicate rows expand while written).
struct PairStream {
  std::int64_t count = 0, offset = 0, total = 0;
  std::function<void(std::vector<Pair>& piece, std::int64_t max)> next;
  /// A stream over a slice held elsewhere (it must outlive the stream).
  static PairStream over(const PairSlice& slice);
  /// A stream that owns its slice.
  static PairStream owning(PairSlice slice);
};

/// Root attributes of an output file (DESIGN.md section 5).
struct OutputAttributes {
  std::string method;            // the method that ran
  std::string requested_method;  // what the user asked for (auto, brute, ...)
  double threshold = 0;          // the inner-product threshold applied
  std::uint64_t seed = 0;
  std::string grid;        // process layout, e.g. "ring of 4"
  std::string parameters;  // JSON object
  std::string inputs;      // "a.h5:/A b.h5:/B"
  std::string timings;     // JSON object, seconds per stage
};

/// Collective: every rank writes its slice into /pairs int64 [m,2] and /inner_products
/// float64 [m] of a new file at `temp` (through MPI-IO, collective writes at the slices'
/// offsets), with rank 0's `attrs` and `ranks` = the communicator's size; the file is closed and complete on return.
/// Rank 0 commits it once every rank agrees the run succeeded.
void write_pairs_temp(const Comm& comm, const std::string& temp, PairStream& pairs, const OutputAttributes& attrs);

/// The answer in parts, in output order: each call the next part (its offset and total
/// within the part) or nothing when all are done; collective, every rank alike.
using NextPairs = std::function<std::optional<PairStream>()>;

/// Collective: write_pairs_temp for an answer made in parts (SpilledAnswer, pair_spill.hpp):
/// the datasets grow by each part (chunked storage; the same format to a reader). Returns
/// the number of pairs written.
std::int64_t write_pair_parts_temp(const Comm& comm, const std::string& temp, const NextPairs& next,
                                   const OutputAttributes& attrs);

/// Collective: creates /pairs and /inner_products in a file opened in parallel and writes
/// each rank's stream at its offset: the format of the output and of the checkpoint.
void write_pair_slices(const Comm& comm, h5::File& file, PairStream& pairs);

/// Collective: this rank's share (a contiguous block) of the pairs of a file written by
/// write_pair_slices, read in parallel (resuming a checkpoint).
std::vector<Pair> read_pair_share(const Comm& comm, const std::string& path);

/// Reads an output file back (tests, tools): pairs in file order.
std::vector<Pair> read_pairs_file(const std::string& path);

}  // namespace hipi
