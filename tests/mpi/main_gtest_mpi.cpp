// The one GoogleTest main for MPI tests: every rank runs every test; rank 0 prints the
// usual report, other ranks print only their failures, and the exit status is non-zero
// on every rank if any rank failed. A fatal assertion on any rank aborts the job.
#include <gtest/gtest.h>

#include <boost/mpi/collectives.hpp>
#include <boost/mpi/environment.hpp>
#include <iostream>

#include "parallel/log.hpp"
#include "parallel/mpi.hpp"

namespace {

class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (result.failed())
      std::cerr << "[rank " << rank_ << "] " << (result.file_name() ? result.file_name() : "?") << ":"
                << result.line_number() << ": " << result.summary() << std::endl;
  }

 private:
  int rank_;
};

// A fatal assertion (ASSERT_*) returns from the test body on the rank that failed it only;
// the other ranks would wait forever in the test's next collective. So the job ends here,
// loudly, instead of hanging until CTest's timeout.
class AbortOnFatalFailure : public ::testing::EmptyTestEventListener {
 public:
  explicit AbortOnFatalFailure(const hipi::Comm& world) : world_(world) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.fatally_failed()) return;
    std::cerr << "[rank " << world_.rank() << "] fatal assertion failed at "
              << (result.file_name() ? result.file_name() : "?") << ":" << result.line_number()
              << ": ending every rank (the others would wait in the next collective)" << std::endl;
    hipi::abort_job(world_, 1);
  }

 private:
  const hipi::Comm& world_;
};

}  // namespace

int main(int argc, char** argv) {
  boost::mpi::environment env(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  hipi::Comm world;
  hipi::init_logging(world, 0);
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (world.rank() != 0) {
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailurePrinter(world.rank()));
  }
  listeners.Append(new AbortOnFatalFailure(world));
  const int local = RUN_ALL_TESTS();
  return boost::mpi::all_reduce(world, local, boost::mpi::maximum<int>());
}
