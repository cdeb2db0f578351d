#include "answer/checkpoint.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/mpi/collectives.hpp>
#include <boost/serialization/string.hpp>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "answer/sample_sort.hpp"
#include "core/hash.hpp"
#include "io/atomic_file.hpp"
#include "io/hdf5.hpp"
#include "io/pair_file.hpp"

namespace hipi {

std::string checkpoint_path(const std::string& out) {
  return out + ".hipi-checkpoint";
}

// --- stop signals ------------------------------------------------------------------------

namespace {

constexpr int kStopSignals[] = {SIGTERM, SIGUSR1, SIGINT};
volatile std::sig_atomic_t pending_signal = 0;
volatile std::sig_atomic_t deferring = 0;
char rank_text[16] = "?";  // written before the handlers are installed

const char* signal_name(int sig) {
  return sig == SIGTERM ? "SIGTERM" : sig == SIGUSR1 ? "SIGUSR1" : sig == SIGINT ? "SIGINT" : "a signal";
}

void write_all(const char* text) {
  for (std::size_t left = std::strlen(text); left > 0;) {
    const ssize_t n = ::write(STDERR_FILENO, text, left);
    if (n <= 0) return;
    text += n;
    left -= static_cast<std::size_t>(n);
  }
}

// Async-signal-safe: flags, write(2), unlink(2), _exit(2). Where no checkpoint can be saved the run
// ends at once with hipi's status for a failure (1), saying why, not by the signal (which
// mpirun would report as its own 128 + signal).
void on_stop_signal(int sig) {
  if (deferring) {
    pending_signal = sig;
    return;
  }
  write_all("hipi: rank ");
  write_all(rank_text);
  write_all(": stopped by ");
  write_all(signal_name(sig));
  write_all(" (this stage keeps no checkpoint)\n");
  remove_open_temps_now();  // the output's (or a report's) temporary file: nothing is left behind
  ::_exit(1);
}

struct sigaction previous[std::size(kStopSignals)];

}  // namespace

StopSignals::StopSignals() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::snprintf(rank_text, sizeof rank_text, "%d", rank);
  pending_signal = 0;
  deferring = 0;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // MPI and HDF5 calls go on; the flag is read at a boundary
  for (std::size_t k = 0; k < std::size(kStopSignals); ++k) sigaction(kStopSignals[k], &action, &previous[k]);
}

StopSignals::~StopSignals() {
  deferring = 0;
  for (std::size_t k = 0; k < std::size(kStopSignals); ++k) sigaction(kStopSignals[k], &previous[k], nullptr);
}

void StopSignals::defer(bool on) {
  deferring = on ? 1 : 0;
}

int StopSignals::pending() {
  return pending_signal;
}

// --- checksum ----------------------------------------------------------------------------

std::uint64_t data_checksum(const Comm& comm, const std::vector<std::pair<const void*, std::size_t>>& local) {
  // At memory speed (core/hash.hpp): a resume checks every byte it read against what the
  // checkpoint saw for little time.
  ByteHash mine;
  for (const auto& [data, size] : local) mine.add(data, size);
  std::vector<std::uint64_t> all;
  boost::mpi::all_gather(comm, mine.value(), all);
  ByteHash h;
  h.add(all.data(), all.size() * sizeof(std::uint64_t));  // order matters: rows by rank
  return h.value();
}

// --- checkpoints -------------------------------------------------------------------------

namespace {

// 2: the header holds the pairs' count and checksum; 3: the checksum covers the state.
constexpr const char* kFormat = "hipi checkpoint 3";

// The checksum saved in a checkpoint's header (collective): of the pairs held across ranks
// (a sum of one hash per pair, so that it does not depend on how they are split or sorted),
// their count, the units done and in all, and the state the run resumes with (the method
// and plan), so that neither a flipped byte in the pairs nor an edited count or plan
// resumes a wrong answer. Also returns the count.
std::pair<std::string, std::int64_t> pairs_checksum(const Comm& comm, const std::vector<Pair>& pairs, std::int64_t done,
                                                    std::int64_t total, const nlohmann::ordered_json& state) {
  static_assert(sizeof(Pair) == 24, "a pair's bytes are its fields only");
  std::uint64_t sum = 0;
  for (const Pair& p : pairs) sum += hash_bytes(&p, sizeof p);
  sum = boost::mpi::all_reduce(comm, sum, std::plus<std::uint64_t>());
  const auto count = boost::mpi::all_reduce(comm, static_cast<std::int64_t>(pairs.size()), std::plus<std::int64_t>());
  const std::int64_t fields[3] = {count, done, total};
  const std::string state_text = state.dump();
  const std::uint64_t h = hash_bytes(state_text.data(), state_text.size(), hash_bytes(fields, sizeof fields, sum));
  return {fmt::format("{:016x}", h), count};
}

// What is wrong with a checkpoint header, or "" when every field the resume reads is there,
// of its type and in range.
std::string header_problem(const nlohmann::ordered_json& h) {
  const auto integer = [&](const char* field) { return h.contains(field) && h[field].is_number_integer(); };
  if (!integer("units_done")) return "units_done is missing or not an integer";
  if (!integer("units_total")) return "units_total is missing or not an integer";
  const auto done = h["units_done"].get<std::int64_t>(), total = h["units_total"].get<std::int64_t>();
  if (done < 0 || done >= total) return fmt::format("units_done {} is outside [0, units_total {})", done, total);
  if (!h.contains("state") || !h["state"].is_object() || !h["state"].contains("method") ||
      !h["state"]["method"].is_string() || !h["state"].contains("plan"))
    return "its state (method and plan) is missing";
  if (!integer("pairs") || !h.contains("pairs_checksum") || !h["pairs_checksum"].is_string())
    return "its pair count or checksum is missing";
  return {};
}

// The first field of `saved` that differs from `now`, described for the user; empty if none.
std::string first_difference(const nlohmann::ordered_json& saved, const nlohmann::ordered_json& now) {
  for (const auto& [field, value] : now.items()) {
    if (!saved.contains(field)) return fmt::format("{} is not in it", field);
    if (saved[field] != value) return fmt::format("{} was {}, now {}", field, saved[field].dump(), value.dump());
  }
  for (const auto& [field, value] : saved.items())
    if (!now.contains(field)) return fmt::format("it has {} = {}, this run none", field, value.dump());
  return {};
}

}  // namespace

Checkpointer::Checkpointer(const Comm& comm, CheckpointConfig config)
    : comm_(comm), config_(std::move(config)), last_save_(MPI_Wtime()) {}

nlohmann::ordered_json Checkpointer::full_key() {
  if (!checksum_) checksum_ = config_.checksum();
  nlohmann::ordered_json key = config_.key;
  key["data_checksum"] = fmt::format("{:016x}", *checksum_);
  return key;
}

std::optional<Resumed> Checkpointer::load(const MemoryBudget& budget) {
  if (!config_.inspect) return std::nullopt;
  int exists = comm_.rank() == 0 && std::filesystem::exists(config_.path);
  boost::mpi::broadcast(comm_, exists, 0);
  if (!exists) return std::nullopt;

  std::string header_text;
  std::int64_t stored = 0;  // rows of /pairs
  Resumed out;
  agree(comm_, [&] {
    if (comm_.rank() != 0) return;
    try {
      h5::File file = h5::File::open_read(config_.path, nullptr);
      header_text = file.string_attribute("checkpoint");
      const auto pairs = file.info("/pairs").dims, ips = file.info("/inner_products").dims;
      if (pairs.size() != 2 || pairs[1] != 2 || ips.size() != 1 || ips[0] != pairs[0])
        throw InputError("its /pairs and /inner_products do not match");
      stored = pairs[0];
      file.close();
    } catch (const Error& e) {
      throw damaged(e.what(), false);
    }
  });
  boost::mpi::broadcast(comm_, header_text, 0);
  boost::mpi::broadcast(comm_, stored, 0);
  const auto header = nlohmann::ordered_json::parse(header_text, nullptr, /*allow_exceptions=*/false);
  const nlohmann::ordered_json key = full_key();  // collective: the checksum of the rows read
  agree(comm_, [&] {
    // Every field is checked before it is read: a header edited into any JSON is refused.
    if (header.is_discarded()) throw damaged("its header is not JSON", false);
    if (!header.is_object())
      throw damaged(fmt::format("its header is a JSON {}, not an object", header.type_name()), false);
    if (!header.contains("format") || header["format"] != kFormat)
      throw InputError(fmt::format("{}: not a hipi checkpoint of this version; remove it to start over", config_.path));
    if (!header.contains("key") || !header["key"].is_object()) throw damaged("its key is missing", false);
    if (const std::string diff = first_difference(header["key"], key); !diff.empty())
      throw InputError(fmt::format(
          "{} was saved by a run with other inputs or options ({}): rerun that command to resume it, or remove the "
          "checkpoint to start this one over",
          config_.path, diff));
    if (const std::string problem = header_problem(header); !problem.empty()) throw damaged(problem, false);
    // Before the budget is asked about them: an edited count is damage, not a size.
    if (header["pairs"].get<std::int64_t>() != stored)
      throw damaged(
          fmt::format("its header counts {} pairs, /pairs holds {}", header["pairs"].get<std::int64_t>(), stored),
          false);
  });
  // Each rank resumes with a share of the pairs found so far (the answer sorts them again).
  // Rank 0 checked the file above; an error inside this collective read ends the job.
  // A rank reads about pairs / P of them (indices and products, then the pairs made of them).
  agree(comm_, [&] {
    const double share = static_cast<double>(header["pairs"].get<std::int64_t>()) / comm_.size() + 1;
    budget.check(fmt::format("this rank's share of the pairs saved in {}", config_.path), share * 2 * sizeof(Pair));
  });
  out.pairs = read_pair_share(comm_, config_.path);
  // Every rank reduces to the same sums: the verdict is the same everywhere.
  const auto [checksum, pairs] = pairs_checksum(comm_, out.pairs, header["units_done"].get<std::int64_t>(),
                                                header["units_total"].get<std::int64_t>(), header["state"]);
  if (pairs != header["pairs"].get<std::int64_t>() || checksum != header["pairs_checksum"].get<std::string>())
    throw damaged("its pairs or units do not match the checksum saved with them");
  out.units_done = header["units_done"].get<std::int64_t>();
  out.units_total = header["units_total"].get<std::int64_t>();
  out.state = header["state"];
  spdlog::info("checkpoint: resuming from {}: {} of {} units done, {} pairs", config_.path, out.units_done,
               header["units_total"].get<std::int64_t>(), pairs);
  return out;
}

std::int64_t Checkpointer::at_boundary(std::int64_t done, std::int64_t total, const std::vector<Pair>& found,
                                       std::int64_t elsewhere) {
  // One reduction says whether any rank was signalled and whether rank 0's clock says a
  // checkpoint is due; another counts the pairs for the progress line.
  const int due = comm_.rank() == 0 && enabled() && MPI_Wtime() - last_save_ >= config_.interval_seconds;
  const int flags[2] = {StopSignals::pending(), due};
  int agreed[2] = {0, 0};
  boost::mpi::all_reduce(comm_, flags, 2, agreed, boost::mpi::maximum<int>());
  const std::int64_t pairs =
      boost::mpi::all_reduce(comm_, static_cast<std::int64_t>(found.size()) + elsewhere, std::plus<std::int64_t>());
  const int signal = agreed[0];
  const bool saves = enabled() && saving_ && done < total;
  if ((signal || agreed[1]) && saves) save(done, total, found);
  if (signal && saves)
    throw StoppedError(fmt::format("stopped by {} after {} of {} units; checkpoint saved in {}: run the same command "
                                   "again to resume",
                                   signal_name(signal), done, total, config_.path),
                       /*collective=*/true);
  if (signal && enabled() && done < total)
    throw StoppedError(fmt::format("stopped by {} after {} of {} units; no checkpoint since the pairs passed the "
                                   "memory budget (spilled to disk): run the same command again to resume from the "
                                   "last one saved in {}, if any",
                                   signal_name(signal), done, total, config_.path),
                       /*collective=*/true);
  return pairs;
}

void Checkpointer::stop_saving(const std::string& why) {
  if (!saving_) return;
  saving_ = false;
  if (enabled() && comm_.rank() == 0) spdlog::info("checkpoints stop here: {}", why);
}

void Checkpointer::save(std::int64_t done, std::int64_t total, const std::vector<Pair>& found) {
  const double start = MPI_Wtime();
  const PairSlice slice = sort_pairs_across(comm_, found);
  const auto [checksum, pairs] = pairs_checksum(comm_, slice.pairs, done, total, state_);  // what is written
  // The header is written collectively, with rank 0's clock.
  std::string header = nlohmann::ordered_json{
      {"format", kFormat},
      {"key", full_key()},
      {"units_done", done},
      {"units_total", total},
      {"pairs", pairs},
      {"pairs_checksum", checksum},
      {"saved_at", static_cast<std::int64_t>(std::time(nullptr))},
      {"state", state_}}.dump();
  boost::mpi::broadcast(comm_, header, 0);
  // Written beside the checkpoint and renamed over it by rank 0 once every rank wrote; a
  // rank that fails inside the collective write removes the temporary file and ends the job.
  AtomicPath out(config_.path, shared_temp_suffix(comm_));
  {
    h5::File file = h5::File::create(out.temp(), &comm_);
    PairStream pairs = PairStream::over(slice);
    write_pair_slices(comm_, file, pairs);
    file.set_attribute("checkpoint", header);
    file.close();
  }
  agree(comm_, [&] {
    if (comm_.rank() == 0) out.commit();
  });
  last_save_ = MPI_Wtime();
  spdlog::info("checkpoint: {} of {} units and {} pairs saved in {} ({:.2f} s)", done, total, slice.total, config_.path,
               last_save_ - start);
}

void Checkpointer::refuse_existing(const std::string& why) const {
  agree(comm_, [&] {
    if (comm_.rank() == 0 && config_.inspect && std::filesystem::exists(config_.path))
      throw InputError(
          fmt::format("{} was saved by another run ({}): rerun that command to resume it, or remove the "
                      "checkpoint to start this one over",
                      config_.path, why));
  });
}

InputError Checkpointer::damaged(const std::string& what, bool collective) const {
  return InputError(fmt::format("{}: not a readable checkpoint ({}); remove it to start over", config_.path, what),
                    collective);
}

void Checkpointer::remove() const {
  if (comm_.rank() != 0) return;
  std::error_code ec;
  std::filesystem::remove(config_.path, ec);
}

}  // namespace hipi
