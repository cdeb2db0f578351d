#include <gtest/gtest.h>

#include "runtime/stage_times.hpp"

using namespace hipi;

TEST(StageTimes, KeepsOrderAndAddsRepeatedStages) {
  StageTimes t;
  t.add("read", 1.0);
  t.add("compute", 2.0);
  t.add("read", 0.5);
  ASSERT_EQ(t.stages().size(), 2u);
  EXPECT_EQ(t.stages()[0].first, "read");
  EXPECT_DOUBLE_EQ(t.stages()[0].second, 1.5);
  EXPECT_EQ(t.stages()[1].first, "compute");
}

TEST(StageTimes, TimeReturnsTheStageResultAndRecordsIt) {
  StageTimes t;
  const int v = t.time("work", [] { return 7; });
  EXPECT_EQ(v, 7);
  ASSERT_EQ(t.stages().size(), 1u);
  EXPECT_GE(t.stages()[0].second, 0.0);
}
