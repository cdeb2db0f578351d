#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "hipi/error.hpp"
#include "io/atomic_file.hpp"

using namespace hipi;
namespace fs = std::filesystem;

namespace {
fs::path fresh_dir() {
  fs::path dir = fs::temp_directory_path() / ("hipi-unit-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}
}  // namespace

TEST(AtomicPath, UncommittedTemporaryIsRemovedAndFinalNeverAppears) {
  const fs::path dir = fresh_dir();
  const std::string final_path = (dir / "out.h5").string();
  std::string temp;
  {
    AtomicPath p(final_path, "1");
    temp = p.temp();
    EXPECT_EQ(fs::path(temp).parent_path(), dir) << "the temporary must be beside the output (same file system)";
    std::ofstream(temp) << "partial";
  }  // e.g. an exception unwinds here
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_FALSE(fs::exists(final_path));
  {
    AtomicPath p(final_path, "2");
    std::ofstream(p.temp()) << "complete";
    p.commit();
    EXPECT_FALSE(fs::exists(p.temp()));
  }
  std::string text;
  std::ifstream(final_path) >> text;
  EXPECT_EQ(text, "complete");
  fs::remove_all(dir);
}

TEST(CheckOutputPath, RejectsMissingDirectoriesDirectoriesAndEmptyPaths) {
  const fs::path dir = fresh_dir();
  EXPECT_NO_THROW(check_output_path((dir / "x.h5").string(), "--out"));
  EXPECT_THROW(check_output_path((dir / "missing" / "x.h5").string(), "--out"), InputError);
  EXPECT_THROW(check_output_path(dir.string(), "--out"), InputError);
  EXPECT_THROW(check_output_path("", "--out"), InputError);
  try {
    check_output_path((dir / "missing" / "x.h5").string(), "--report");
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--report"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos);
  }
  fs::remove_all(dir);
}

TEST(RemoveStaleTemps, RemovesTheFilesOfGoneProcessesOfThisHostOnly) {
  const fs::path dir = fresh_dir();
  const std::string final_path = (dir / "out.h5").string();
  // This host's suffix is HOST-PID; a child that has exited gives a pid that is gone.
  const std::string mine = temp_suffix();
  const std::string host = mine.substr(0, mine.rfind('-'));
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  int status = 0;
  ::waitpid(child, &status, 0);
  const std::string gone = AtomicPath(final_path, host + "-" + std::to_string(child)).temp();
  const std::string running = AtomicPath(final_path, mine).temp();
  const std::string other_host = AtomicPath(final_path, "elsewhere.example-1").temp();
  const std::string other_output = AtomicPath((dir / "other.h5").string(), host + "-" + std::to_string(child)).temp();
  for (const auto& p : {gone, running, other_host, other_output}) std::ofstream(p) << "partial";
  std::ofstream(final_path) << "previous output";

  remove_stale_temps(final_path);
  EXPECT_FALSE(fs::exists(gone)) << "a gone process's temporary file must be removed";
  EXPECT_TRUE(fs::exists(running)) << "a running process may still be writing";
  EXPECT_TRUE(fs::exists(other_host)) << "a process of another host cannot be checked";
  EXPECT_TRUE(fs::exists(other_output)) << "only the temporaries of this output";
  EXPECT_TRUE(fs::exists(final_path));
  fs::remove_all(dir);
}
