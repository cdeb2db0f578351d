// The one GoogleTest main for MPI tests: every rank runs every test; rank 0 prints the
// usual report, other ranks print only their failures, and the exit status is non-zero
// on every rank if any rank failed.
#include <gtest/gtest.h>

#include <boost/mpi/collectives.hpp>
#include <boost/mpi/environment.hpp>
#include <iostream>

#include "hipi/log.hpp"
#include "hipi/mpi.hpp"

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
  const int local = RUN_ALL_TESTS();
  return boost::mpi::all_reduce(world, local, boost::mpi::maximum<int>());
}
