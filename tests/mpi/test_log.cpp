#include <gtest/gtest.h>

#include "parallel/log.hpp"

using namespace hipi;

TEST(Log, RankZeroReportsProgressOtherRanksOnlyProblems) {
  Comm world;
  init_logging(world, 1);
  EXPECT_EQ(spdlog::default_logger()->level(), world.rank() == 0 ? spdlog::level::info : spdlog::level::warn);
  init_logging(world, 2);
  EXPECT_EQ(spdlog::default_logger()->level(), world.rank() == 0 ? spdlog::level::debug : spdlog::level::warn);
  init_logging(world, 0);  // back to the quiet level the test main uses
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);
}
