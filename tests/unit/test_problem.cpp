#include <gtest/gtest.h>

#include <cmath>

#include "core/problem.hpp"
#include "hipi/error.hpp"

using namespace hipi;

TEST(DatasetRef, ParsesFileAndDataset) {
  auto r = DatasetRef::parse("data/x.h5:/group/A", "/A");
  EXPECT_EQ(r.file, "data/x.h5");
  EXPECT_EQ(r.dataset, "/group/A");
  r = DatasetRef::parse("x.h5", "/B");
  EXPECT_EQ(r.file, "x.h5");
  EXPECT_EQ(r.dataset, "/B");
  r = DatasetRef::parse("odd:dir/x.h5:/A", "/B");  // colon inside the path
  EXPECT_EQ(r.file, "odd:dir/x.h5");
  EXPECT_EQ(r.dataset, "/A");
  EXPECT_EQ(r.str(), "odd:dir/x.h5:/A");
  EXPECT_THROW(DatasetRef::parse(":/A", "/A"), InputError);
}

TEST(Threshold, BinaryThresholdIsRhoTimesDRoundedUpExactly) {
  Problem p;
  p.mode = Mode::Binary;
  p.value = 0.5;
  EXPECT_EQ(p.threshold(1024).theta, 512);
  p.value = 0.1;  // 0.1 * 30 = 3.0000000000000004 in floating point: still 3
  EXPECT_EQ(p.threshold(30).theta, 3);
  p.value = 0.3;  // 0.3 * 10 = 3 (2.9999999999999996 in floating point): 3
  EXPECT_EQ(p.threshold(10).theta, 3);
  p.value = 0.55;  // 5.5 -> 6: ip 5 < 5.5 is not heavy, 6 is
  EXPECT_EQ(p.threshold(10).theta, 6);
}

TEST(Threshold, PassesIsInclusiveAndAbsIsSymmetric) {
  const Threshold t{6, false};
  EXPECT_TRUE(t.passes(6));
  EXPECT_FALSE(t.passes(5.999));
  EXPECT_FALSE(t.passes(-10));
  const Threshold a{6, true};
  EXPECT_TRUE(a.passes(-6));
  EXPECT_TRUE(a.passes(6));
  EXPECT_FALSE(a.passes(-5));
}

TEST(Threshold, OutOfRangeValuesAreInputErrors) {
  Problem p;
  p.mode = Mode::Binary;
  for (double rho : {0.0, -0.5, 1.5, std::nan("")}) {
    p.value = rho;
    EXPECT_THROW(p.check_threshold(), InputError) << rho;
  }
  p.value = 1.0;
  EXPECT_NO_THROW(p.check_threshold());
  p.mode = Mode::Real;
  p.value = std::nan("");
  EXPECT_THROW(p.check_threshold(), InputError);
  p.value = INFINITY;
  EXPECT_THROW(p.check_threshold(), InputError);
  p.value = -3;
  EXPECT_NO_THROW(p.check_threshold());
  p.abs = true;
  EXPECT_THROW(p.check_threshold(), InputError);
}

TEST(Pairs, SortByRowThenColumn) {
  std::vector<Pair> v{{2, 1, 0}, {1, 5, 0}, {1, 2, 0}, {0, 9, 0}};
  sort_pairs(v);
  EXPECT_EQ(v, (std::vector<Pair>{{0, 9, 0}, {1, 2, 0}, {1, 5, 0}, {2, 1, 0}}));
}
