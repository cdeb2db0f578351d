#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/mpi/collectives.hpp>
#include <boost/serialization/string.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

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

// True when process `pid` of this host no longer runs: none has that id, or it is a zombie
// (a killed rank stays one until its parent reaps it, about 2 s under mpirun, and kill(pid,
// 0) reports zombies alive) or dead (state Z or X in /proc/PID/stat, after the name's ')').
bool process_gone(long pid) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) return false;
  const char state = text[close + 2];
  return state == 'Z' || state == 'X';
}

// fsync of a file or directory; IoError naming it when the system refuses (a full or
// failing disk can show only here).
void sync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(fmt::format("cannot open {} to sync it: {}", path, std::strerror(errno)));
  const int synced = ::fsync(fd), error = errno;
  ::close(fd);
  if (synced != 0) throw IoError(fmt::format("cannot sync {} to disk: {}", path, std::strerror(error)));
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

namespace {

// The uncommitted temporary paths of this process, where a signal handler can read them:
// fixed buffers, each published by its flag after its text is written.
constexpr int kOpenTemps = 8;
constexpr std::size_t kTempPathBytes = 4096;
char open_temp_paths[kOpenTemps][kTempPathBytes];
volatile std::sig_atomic_t open_temp_used[kOpenTemps] = {};

int track_temp(const std::string& path) {
  if (path.size() >= kTempPathBytes) return -1;
  for (int k = 0; k < kOpenTemps; ++k)
    if (!open_temp_used[k]) {
      std::memcpy(open_temp_paths[k], path.c_str(), path.size() + 1);
      open_temp_used[k] = 1;
      return k;
    }
  return -1;  // more at once than tracked: only its destructor removes it
}

void untrack_temp(int& slot) {
  if (slot >= 0) open_temp_used[slot] = 0;
  slot = -1;
}

}  // namespace

void remove_open_temps_now() {
  for (int k = 0; k < kOpenTemps; ++k)
    if (open_temp_used[k]) ::unlink(open_temp_paths[k]);
}

AtomicPath::AtomicPath(std::string final_path, const std::string& unique_suffix) : final_(std::move(final_path)) {
  const std::filesystem::path p(final_);
  temp_ = (p.parent_path() / (temp_prefix(p) + unique_suffix)).string();
  slot_ = track_temp(temp_);
}

AtomicPath::~AtomicPath() {
  untrack_temp(slot_);
  if (!committed_) std::remove(temp_.c_str());
}

void AtomicPath::commit() {
  // The file's data reach the disk before its name does, and the rename itself after: a
  // node crash leaves the previous file or the whole new one under the final name, never a
  // truncated one.
  sync_path(temp_, false);
  std::error_code ec;
  untrack_temp(slot_);  // from here the name is the final file's: a signal must not remove it
  std::filesystem::rename(temp_, final_, ec);
  if (ec) {
    slot_ = track_temp(temp_);
    throw IoError(fmt::format("cannot move {} to {}: {}", temp_, final_, ec.message()));
  }
  committed_ = true;
  // The file is in place and its data on disk: a directory that cannot be synced only warns.
  const std::filesystem::path dir = std::filesystem::path(final_).parent_path();
  try {
    sync_path(dir.empty() ? "." : dir.string(), true);
  } catch (const IoError& e) {
    spdlog::warn("{}: the rename may not survive a crash", e.what());
  }
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
      gone = *end == '\0' && process_gone(pid);
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

}  // namespace hipi
