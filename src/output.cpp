#include "hipi/output.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

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

std::vector<Pair> gather_pairs(const Comm& comm, const std::vector<Pair>& local) {
  static_assert(std::is_trivially_copyable_v<Pair>);
  const std::int64_t bytes = static_cast<std::int64_t>(local.size() * sizeof(Pair));
  HIPI_ASSERT(bytes <= INT_MAX);
  const char* data = reinterpret_cast<const char*>(local.data());
  if (comm.rank() != 0) {
    boost::mpi::gather(comm, static_cast<int>(bytes), 0);
    gather_parts_send(comm, data, static_cast<int>(bytes), 0);
    return {};
  }
  std::vector<int> sizes;
  boost::mpi::gather(comm, static_cast<int>(bytes), sizes, 0);
  std::int64_t total = 0;
  for (int s : sizes) total += s;
  if (total > INT_MAX)
    throw InputError("the answer holds " + std::to_string(total / sizeof(Pair)) +
                     " pairs, more than one writer can gather; raise the threshold");
  std::vector<Pair> all(static_cast<std::size_t>(total / sizeof(Pair)));
  gather_parts_root(comm, data, static_cast<int>(bytes), reinterpret_cast<char*>(all.data()), sizes, 0);
  sort_pairs(all);
  // Methods that may verify a pair more than once (repetitions) leave duplicates: keep one.
  all.erase(std::unique(all.begin(), all.end(), [](const Pair& x, const Pair& y) { return x.i == y.i && x.j == y.j; }),
            all.end());
  return all;
}

void write_pairs_temp(const AtomicPath& out, const std::vector<Pair>& pairs, const OutputAttributes& attrs) {
  {
    h5::File file = h5::File::create(out.temp(), nullptr);
    write_pair_datasets(file, pairs);
    file.set_attribute("version", std::string(HIPI_VERSION));
    file.set_attribute("method", attrs.method);
    file.set_attribute("requested_method", attrs.requested_method);
    file.set_attribute("threshold", attrs.threshold);
    file.set_attribute("seed", static_cast<std::int64_t>(attrs.seed));
    file.set_attribute("ranks", static_cast<std::int64_t>(attrs.ranks));
    file.set_attribute("grid", attrs.grid);
    file.set_attribute("parameters", attrs.parameters);
    file.set_attribute("inputs", attrs.inputs);
    file.set_attribute("timings", attrs.timings);
    file.close();
  }
}

void write_pair_datasets(h5::File& file, const std::vector<Pair>& pairs) {
  const auto m = static_cast<std::int64_t>(pairs.size());
  std::vector<std::int64_t> ij(2 * pairs.size());
  std::vector<double> ip(pairs.size());
  for (std::size_t k = 0; k < pairs.size(); ++k) {
    ij[2 * k] = pairs[k].i;
    ij[2 * k + 1] = pairs[k].j;
    ip[k] = pairs[k].ip;
  }
  file.write<std::int64_t>("/pairs", {m, 2}, ij);
  file.write<double>("/inner_products", {m}, ip);
}

std::vector<Pair> read_pairs_file(const std::string& path) {
  h5::File file = h5::File::open_read(path, nullptr);
  const auto ij = file.read_all<std::int64_t>("/pairs");
  const auto ip = file.read_all<double>("/inner_products");
  HIPI_ASSERT(ij.size() == 2 * ip.size());
  std::vector<Pair> pairs(ip.size());
  for (std::size_t k = 0; k < ip.size(); ++k) pairs[k] = {ij[2 * k], ij[2 * k + 1], ip[k]};
  return pairs;
}

}  // namespace hipi
