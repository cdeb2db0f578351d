#include "hipi/output.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <boost/serialization/string.hpp>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "hipi/hdf5_io.hpp"

namespace hipi {

namespace {

std::string temp_prefix(const std::filesystem::path& final_path) {
  return fmt::format(".{}.hipi-tmp-", final_path.filename().string());
}

std::string host_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return "unknown";
  return host;
}

}  // namespace

std::string temp_suffix() {
  return fmt::format("{}-{}", host_name(), ::getpid());
}

std::string shared_temp_suffix(const Comm& comm) {
  std::string suffix = comm.rank() == 0 ? temp_suffix() : std::string();
  boost::mpi::broadcast(comm, suffix, 0);
  return suffix;
}

AtomicPath::AtomicPath(std::string final_path, const std::string& unique_suffix) : final_(std::move(final_path)) {
  const std::filesystem::path p(final_);
  temp_ = (p.parent_path() / (temp_prefix(p) + unique_suffix)).string();
}

AtomicPath::~AtomicPath() {
  if (!committed_) std::remove(temp_.c_str());
}

void AtomicPath::commit() {
  std::error_code ec;
  std::filesystem::rename(temp_, final_, ec);
  if (ec) throw IoError(fmt::format("cannot move {} to {}: {}", temp_, final_, ec.message()));
  committed_ = true;
}

void check_output_path(const std::string& path, const std::string& option) {
  namespace fs = std::filesystem;
  if (path.empty()) throw InputError(option + " is required");
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw InputError(fmt::format("{} {}: is a directory", option, path));
  const fs::path dir = fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  if (!fs::is_directory(dir, ec))
    throw InputError(fmt::format("{} {}: directory {} does not exist", option, path, dir.string()));
  if (::access(dir.c_str(), W_OK) != 0)
    throw InputError(fmt::format("{} {}: directory {} is not writable", option, path, dir.string()));
}

void remove_stale_temps(const std::string& final_path) {
  namespace fs = std::filesystem;
  const fs::path p(final_path);
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  const std::string prefix = temp_prefix(p), host = host_name() + "-";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string owner = name.substr(prefix.size());  // HOST-PID
    const auto bytes = entry.file_size(ec);
    bool gone = false;
    if (owner.rfind(host, 0) == 0) {
      char* end = nullptr;
      const long pid = std::strtol(owner.c_str() + host.size(), &end, 10);
      gone = pid > 0 && *end == '\0' && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
    }
    if (gone && fs::remove(entry.path(), ec)) {
      spdlog::warn("removed {} ({} bytes), left by process {} which is gone", entry.path().string(), bytes, owner);
    } else {
      spdlog::warn(
          "{} ({} bytes) was left by process {} (another host, or still running): remove it if no job "
          "is writing {}",
          entry.path().string(), bytes, owner, final_path);
    }
  }
}

void write_text_temp(const AtomicPath& out, const std::string& text, const std::string& what) {
  std::ofstream file(out.temp(), std::ios::binary);
  file << text;
  file.close();  // flushes: a full disk fails here, not at the write
  struct stat written {};
  if (file.fail() || ::stat(out.temp().c_str(), &written) != 0 || written.st_size != static_cast<off_t>(text.size()))
    throw IoError(fmt::format("cannot write {} {}: {}", what, out.final_path(), std::strerror(errno ? errno : EIO)));
}

void write_text_atomically(const std::string& path, const std::string& text, const std::string& what) {
  AtomicPath out(path);
  write_text_temp(out, text, what);
  out.commit();
}

namespace {

bool same_file(const std::string& x, const std::string& y) {
  struct stat sx {
  }, sy{};
  if (::stat(x.c_str(), &sx) == 0 && ::stat(y.c_str(), &sy) == 0)
    return sx.st_dev == sy.st_dev && sx.st_ino == sy.st_ino;
  namespace fs = std::filesystem;
  std::error_code ex, ey;
  const fs::path px = fs::weakly_canonical(fs::absolute(x), ex), py = fs::weakly_canonical(fs::absolute(y), ey);
  return !ex && !ey && px == py;
}

}  // namespace

void check_outputs_distinct(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs) {
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const NamedPath& out = outputs[k];
    for (const NamedPath& in : inputs)
      if (same_file(out.path, in.path))
        throw InputError(fmt::format("{} {} is the same file as {} {}: hipi would replace its input", out.option,
                                     out.path, in.option, in.path));
    for (std::size_t m = 0; m < k; ++m)
      if (same_file(out.path, outputs[m].path))
        throw InputError(fmt::format("{} {} is the same file as {} {}: one output would replace the other", out.option,
                                     out.path, outputs[m].option, outputs[m].path));
  }
}

namespace {

// Pairs as the output files hold them: /pairs [m, 2] beside /inner_products [m].
std::vector<Pair> pairs_of_columns(const std::vector<std::int64_t>& ij, const std::vector<double>& ip) {
  HIPI_ASSERT(ij.size() == 2 * ip.size());
  std::vector<Pair> pairs(ip.size());
  for (std::size_t k = 0; k < ip.size(); ++k) pairs[k] = {ij[2 * k], ij[2 * k + 1], ip[k]};
  return pairs;
}

}  // namespace

std::vector<SplitterOffer> offers_of(const Comm& comm, const std::vector<Pair>& sorted) {
  const std::int64_t per_rank = std::clamp<std::int64_t>((std::int64_t{1} << 16) / comm.size(), 1, 256);
  const auto m = static_cast<std::int64_t>(sorted.size());
  const std::int64_t count = std::min(m, per_rank);
  std::vector<SplitterOffer> offers;
  for (std::int64_t k = 0; k < count; ++k)
    offers.push_back({sorted[static_cast<std::size_t>(k * m / count)], static_cast<double>(m) / count});
  return offers;
}

// Every rank offers keys at even steps through its sorted pairs; the weighted quantiles of
// all offers (the same on every rank) cut the answer into P parts of about equal size.
// Up to 2^16 offers in all (at most 1.5 MiB on every rank at any P), plus the shared ones.
std::vector<Pair> choose_splitters(const Comm& comm, const std::vector<SplitterOffer>& mine,
                                   const std::vector<SplitterOffer>& shared) {
  const int P = comm.size();
  std::vector<SplitterOffer> all = all_gather_vector(comm, mine);
  all.insert(all.end(), shared.begin(), shared.end());
  std::sort(all.begin(), all.end(),
            [](const SplitterOffer& x, const SplitterOffer& y) { return pair_key_less(x.key, y.key); });
  double weight = 0;
  for (const SplitterOffer& o : all) weight += o.weight;
  std::vector<Pair> splitters;
  double seen = 0;
  for (const SplitterOffer& o : all) {
    // The part boundary goes before the first offer past the next multiple of weight / P.
    while (static_cast<int>(splitters.size()) < P - 1 && seen >= weight * (splitters.size() + 1) / P)
      splitters.push_back(o.key);
    seen += o.weight;
  }
  return splitters;  // fewer than P - 1: the last ranks' parts are empty
}

std::vector<Pair> route_sorted(const Comm& comm, std::vector<Pair> sorted, const std::vector<Pair>& splitters) {
  // Pair p goes to the rank after the last splitter <= p: equal keys meet on one rank.
  std::vector<std::int64_t> sizes(comm.size(), 0);
  auto from = sorted.begin();
  for (std::size_t r = 0; r < sizes.size(); ++r) {
    const auto to =
        r < splitters.size() ? std::lower_bound(from, sorted.end(), splitters[r], pair_key_less) : sorted.end();
    sizes[r] = static_cast<std::int64_t>((to - from) * sizeof(Pair));
    from = to;
  }
  RankedBytes received;
  exchange_parts(comm, reinterpret_cast<const char*>(sorted.data()), sizes, received);
  sorted = {};
  std::vector<Pair> part(received.data.size() / sizeof(Pair));
  if (!part.empty()) std::memcpy(part.data(), received.data.data(), received.data.size());
  std::vector<std::size_t> bounds;  // each sender's part is sorted
  for (std::int64_t offset : received.offsets) bounds.push_back(static_cast<std::size_t>(offset) / sizeof(Pair));
  received = {};
  merge_sorted_runs(part, std::move(bounds));
  return part;
}

PairSlice sort_pairs_across(const Comm& comm, std::vector<Pair> local) {
  static_assert(std::is_trivially_copyable_v<Pair>);
  // Methods mostly find pairs in order (brute force row by row): check before sorting.
  if (!std::is_sorted(local.begin(), local.end(), pair_key_less)) sort_pairs(local);
  drop_repeated_pairs(local);
  PairSlice slice;
  if (comm.size() == 1) {
    slice.pairs = std::move(local);
  } else {
    const std::vector<Pair> splitters = choose_splitters(comm, offers_of(comm, local));
    slice.pairs = route_sorted(comm, std::move(local), splitters);
    drop_repeated_pairs(slice.pairs);
  }
  const auto mine = static_cast<std::int64_t>(slice.pairs.size());
  slice.offset = boost::mpi::scan(comm, mine, std::plus<std::int64_t>()) - mine;
  slice.total = boost::mpi::all_reduce(comm, mine, std::plus<std::int64_t>());
  return slice;
}

PairStream PairStream::over(const PairSlice& slice) {
  PairStream stream{static_cast<std::int64_t>(slice.pairs.size()), slice.offset, slice.total, {}};
  stream.next = [&slice, at = std::size_t{0}](std::vector<Pair>& piece, std::int64_t max) mutable {
    const std::size_t end = std::min(slice.pairs.size(), at + static_cast<std::size_t>(max));
    piece.insert(piece.end(), slice.pairs.begin() + static_cast<std::ptrdiff_t>(at),
                 slice.pairs.begin() + static_cast<std::ptrdiff_t>(end));
    at = end;
  };
  return stream;
}

PairStream PairStream::owning(PairSlice slice) {
  auto held = std::make_shared<PairSlice>(std::move(slice));
  PairStream stream = over(*held);
  stream.next = [held, inner = std::move(stream.next)](std::vector<Pair>& piece, std::int64_t max) mutable {
    inner(piece, max);
  };
  return stream;
}

namespace {

// Writes `pairs` at rows [base + pairs.offset, ...) of /pairs and /inner_products: pieces
// of 2^20 pairs (48 MiB of buffers), the same number of collective writes on every rank (a
// rank with fewer pairs writes empty pieces).
void write_stream_at(const Comm& comm, h5::File& file, PairStream& pairs, std::int64_t base) {
  constexpr std::int64_t kPiece = std::int64_t{1} << 20;
  const std::int64_t pieces =
      boost::mpi::all_reduce(comm, (pairs.count + kPiece - 1) / kPiece, boost::mpi::maximum<std::int64_t>());
  std::vector<Pair> piece;
  std::vector<std::int64_t> ij;
  std::vector<double> ip;
  std::int64_t written = 0;
  for (std::int64_t k = 0; k < pieces; ++k) {
    piece.clear();
    const std::int64_t want = std::min(kPiece, pairs.count - written);
    if (want > 0) pairs.next(piece, want);
    HIPI_ASSERT(static_cast<std::int64_t>(piece.size()) == std::max<std::int64_t>(want, 0));
    ij.resize(2 * piece.size());
    ip.resize(piece.size());
    for (std::size_t t = 0; t < piece.size(); ++t) {
      ij[2 * t] = piece[t].i;
      ij[2 * t + 1] = piece[t].j;
      ip[t] = piece[t].ip;
    }
    const std::int64_t first = base + pairs.offset + written;
    const RowRange rows{first, first + static_cast<std::int64_t>(piece.size())};
    file.write_rows<std::int64_t>("/pairs", rows, ij.data());
    file.write_rows<double>("/inner_products", rows, ip.data());
    written += static_cast<std::int64_t>(piece.size());
  }
}

// Attributes are written collectively: every rank writes rank 0's values.
void write_attributes(const Comm& comm, h5::File& file, const OutputAttributes& attrs) {
  std::vector<std::string> text = {attrs.method,     attrs.requested_method, attrs.grid,
                                   attrs.parameters, attrs.inputs,           attrs.timings};
  double threshold = attrs.threshold;
  boost::mpi::broadcast(comm, text.data(), static_cast<int>(text.size()), 0);
  boost::mpi::broadcast(comm, threshold, 0);
  file.set_attribute("version", std::string(HIPI_VERSION));
  file.set_attribute("method", text[0]);
  file.set_attribute("requested_method", text[1]);
  file.set_attribute("threshold", threshold);
  file.set_attribute("seed", static_cast<std::int64_t>(attrs.seed));
  file.set_attribute("ranks", static_cast<std::int64_t>(comm.size()));
  file.set_attribute("grid", text[2]);
  file.set_attribute("parameters", text[3]);
  file.set_attribute("inputs", text[4]);
  file.set_attribute("timings", text[5]);
}

}  // namespace

void write_pairs_temp(const Comm& comm, const std::string& temp, PairStream& pairs, const OutputAttributes& attrs) {
  h5::File file = h5::File::create(temp, &comm);
  write_pair_slices(comm, file, pairs);
  write_attributes(comm, file, attrs);
  file.close();
}

std::int64_t write_pair_parts_temp(const Comm& comm, const std::string& temp, const NextPairs& next,
                                   const OutputAttributes& attrs) {
  h5::File file = h5::File::create(temp, &comm);
  // Chunks of 2^16 rows (1 MiB of /pairs): the datasets grow by each part's total.
  constexpr std::int64_t kChunkRows = std::int64_t{1} << 16;
  file.create_dataset<std::int64_t>("/pairs", {0, 2}, kChunkRows);
  file.create_dataset<double>("/inner_products", {0}, kChunkRows);
  std::int64_t total = 0;
  while (std::optional<PairStream> part = next()) {
    if (part->total == 0) continue;
    file.extend_rows("/pairs", total + part->total);
    file.extend_rows("/inner_products", total + part->total);
    write_stream_at(comm, file, *part, total);
    total += part->total;
  }
  write_attributes(comm, file, attrs);
  file.close();
  return total;
}

void write_pair_slices(const Comm& comm, h5::File& file, PairStream& pairs) {
  file.create_dataset<std::int64_t>("/pairs", {pairs.total, 2});
  file.create_dataset<double>("/inner_products", {pairs.total});
  write_stream_at(comm, file, pairs, 0);
}

std::vector<Pair> read_pair_share(const Comm& comm, const std::string& path) {
  h5::File file = h5::File::open_read(path, &comm);
  const std::int64_t m = file.info("/inner_products").dims.at(0);
  const RowRange share{m * comm.rank() / comm.size(), m * (comm.rank() + 1) / comm.size()};
  std::vector<std::int64_t> ij(static_cast<std::size_t>(2 * share.size()));
  std::vector<double> ip(static_cast<std::size_t>(share.size()));
  file.read_rows<std::int64_t>("/pairs", share, 2, ij.empty() ? nullptr : ij.data(), 2);
  file.read_rows<double>("/inner_products", share, 1, ip.empty() ? nullptr : ip.data(), 1);
  file.close();
  return pairs_of_columns(ij, ip);
}

std::vector<Pair> read_pairs_file(const std::string& path) {
  h5::File file = h5::File::open_read(path, nullptr);
  const auto ij = file.read_all<std::int64_t>("/pairs");
  const auto ip = file.read_all<double>("/inner_products");
  return pairs_of_columns(ij, ip);
}

}  // namespace hipi
