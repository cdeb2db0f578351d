#include <gtest/gtest.h>

#include "parallel/mpi.hpp"

using namespace hipi;

TEST(Agree, NoFailureMeansNoThrow) {
  Comm world;
  EXPECT_NO_THROW(agree(world, [] {}));
}

TEST(Agree, OneRanksFailureIsThrownOnEveryRankAsCollective) {
  Comm world;
  const int last = world.size() - 1;
  try {
    agree(world, [&] {
      if (world.rank() == last) throw InputError("rank " + std::to_string(last) + " saw a bad file");
    });
    ADD_FAILURE() << "agree did not throw on rank " << world.rank();
  } catch (const InputError& e) {
    EXPECT_TRUE(e.collective());
    EXPECT_EQ(std::string(e.what()), "rank " + std::to_string(last) + " saw a bad file");
  }
}

TEST(Agree, TheLowestFailingRankWinsAndKindIsKept) {
  Comm world;
  try {
    agree(world, [&] { throw Hdf5Error("failure on rank " + std::to_string(world.rank())); });
    ADD_FAILURE() << "agree did not throw";
  } catch (const Hdf5Error& e) {
    EXPECT_TRUE(e.collective());
    EXPECT_EQ(std::string(e.what()), "failure on rank 0");
  }
}
