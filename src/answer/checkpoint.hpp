// Stopping and resuming a long run: checkpoints and stop signals (brute force, by units of
// work; see brute.hpp).
//
// At each unit boundary every rank learns whether any rank received SIGTERM, SIGUSR1 or
// SIGINT and whether the checkpoint interval has passed. Then the pairs found so far are
// gathered and rank 0 saves them, with the units done and what must match to resume, in
// OUT.hipi-checkpoint (written atomically, HDF5). After a stop signal the run ends with
// exit status 3 once the checkpoint is saved. Rerunning the same command reads the
// checkpoint, skips the units it holds and writes the same output as a run never stopped;
// a checkpoint of other inputs, data or options is refused with a message saying what
// differs. The checkpoint is removed once the output is in place.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "parallel/mpi.hpp"
#include "runtime/memory.hpp"

namespace hipi {

/// Exit status of a run that a signal stopped after its checkpoint was saved.
constexpr int kStoppedStatus = 3;

/// The checkpoint path of an output path.
std::string checkpoint_path(const std::string& out);

/// While alive, SIGTERM, SIGUSR1 and SIGINT are caught. Where a run can stop cleanly (see
/// defer) they are only noted, for the next unit boundary; elsewhere they print which rank
/// got which signal and end the process with exit status 1.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  /// Whether a signal now waits for the next boundary (true) or ends the process (false).
  static void defer(bool on);
  /// The signal received and not yet acted on, or 0.
  static int pending();
};

/// While alive, stop signals wait for the next unit boundary (StopSignals::defer), and no
/// longer once it ends, however it ends.
class DeferredStops {
 public:
  explicit DeferredStops(bool on) { StopSignals::defer(on); }
  ~DeferredStops() { StopSignals::defer(false); }
  DeferredStops(const DeferredStops&) = delete;
  DeferredStops& operator=(const DeferredStops&) = delete;
};

/// Collective: a 64-bit checksum of what every rank read (its rows' storage, in rank order).
std::uint64_t data_checksum(const Comm& comm, const std::vector<std::pair<const void*, std::size_t>>& local);

struct CheckpointConfig {
  std::string path;                         // where it is saved
  double interval_seconds = 0;              // save at least this often; 0: never (signals end the run)
  bool inspect = false;                     // look at a checkpoint already there (runs with an output)
  nlohmann::ordered_json key;               // what must match to resume: inputs, options, ranks
  std::function<std::uint64_t()> checksum;  // collective: data_checksum of the rows read
};

/// What a checkpoint held: units done, the pairs (on rank 0; empty elsewhere) and the state
/// the run saved with it (the method and plan auto chose).
struct Resumed {
  std::int64_t units_done = 0;
  std::int64_t units_total = 0;  // of the run that saved it (a resuming schedule checks its own)
  std::vector<Pair> pairs;
  nlohmann::ordered_json state;
};

class Checkpointer {
 public:
  Checkpointer(const Comm& comm, CheckpointConfig config);
  /// Collective: the checkpoint at config.path, if any, whether or not this run saves
  /// checkpoints (a run of a method that keeps none must not delete another's); refused
  /// (an agreed InputError) when its key or the data's checksum differs from this run's, or when it is damaged: a
  /// header field missing, of the wrong type or out of range, or pairs that do not match the checksum saved with them.
  /// Each rank's share of the saved pairs is checked against `budget` before it is read.
  std::optional<Resumed> load(const MemoryBudget& budget);
  /// Collective: for a run that can resume none (the sparse join), an agreed InputError
  /// when a checkpoint is at config.path: another run's, refused (`why`: why this one
  /// cannot resume it), never deleted when this run's output is written.
  void refuse_existing(const std::string& why) const;
  /// The run's state saved with every checkpoint.
  void set_state(nlohmann::ordered_json state) { state_ = std::move(state); }
  /// Collective, after unit `done` of `total`: saves a checkpoint when the interval has
  /// passed or a stop signal arrived (then throws the agreed stop, exit status 3). Returns
  /// the pairs found so far on all ranks (repeats counted), `found` and `elsewhere` (a
  /// rank's pairs spilled to disk).
  std::int64_t at_boundary(std::int64_t done, std::int64_t total, const std::vector<Pair>& found,
                           std::int64_t elsewhere = 0);
  /// Collective: no more checkpoints in this run: some rank's pairs are spilled to disk
  /// (pair_spill.hpp), which a checkpoint cannot hold. The last one saved stays valid: a
  /// stopped run resumes from it. Logged once.
  void stop_saving(const std::string& why);
  /// Rank 0: removes the checkpoint (the output is in place).
  void remove() const;
  bool enabled() const { return config_.interval_seconds > 0; }
  /// "PATH: not a readable checkpoint (what); remove it to start over", the one message of
  /// a damaged checkpoint (an InputError: exit status 2; the file is left as it is).
  InputError damaged(const std::string& what, bool collective = true) const;

 private:
  void save(std::int64_t done, std::int64_t total, const std::vector<Pair>& found);
  nlohmann::ordered_json full_key();
  const Comm& comm_;
  CheckpointConfig config_;
  nlohmann::ordered_json state_;
  std::optional<std::uint64_t> checksum_;
  double last_save_;
  bool saving_ = true;
};

}  // namespace hipi
