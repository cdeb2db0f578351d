// Files that appear whole or not at all: a temporary file beside the final path, renamed
// into place only when complete (DESIGN.md section 5); stale temporaries of killed runs;
// checks that an output path is writable and names no input.
#pragma once

#include <string>
#include <vector>

#include "parallel/mpi.hpp"

namespace hipi {

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
  int slot_ = -1;  // where a stop signal finds the temporary path (remove_open_temps_now)
};

/// Async-signal-safe: unlinks every temporary file an AtomicPath of this process holds
/// uncommitted now (a stop signal that ends the process at once calls it: no destructor
/// runs after _exit).
void remove_open_temps_now();

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

}  // namespace hipi
