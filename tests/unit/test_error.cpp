#include <gtest/gtest.h>

#include "hipi/error.hpp"

using namespace hipi;

TEST(Error, InputErrorsExitWithTwoOthersWithOne) {
  EXPECT_EQ(exit_status(ErrorKind::Input), 2);
  for (ErrorKind k : {ErrorKind::Io, ErrorKind::Mpi, ErrorKind::Hdf5, ErrorKind::Scalapack, ErrorKind::Internal})
    EXPECT_EQ(exit_status(k), 1) << kind_name(k);
}

TEST(Error, ThrowErrorThrowsTheMatchingTypeAndKeepsCollective) {
  EXPECT_THROW(throw_error(ErrorKind::Input, "x", false), InputError);
  EXPECT_THROW(throw_error(ErrorKind::Hdf5, "x", false), Hdf5Error);
  EXPECT_THROW(throw_error(ErrorKind::Mpi, "x", false), MpiError);
  EXPECT_THROW(throw_error(ErrorKind::Scalapack, "x", false), ScalapackError);
  EXPECT_THROW(throw_error(ErrorKind::Io, "x", false), IoError);
  EXPECT_THROW(throw_error(ErrorKind::Internal, "x", false), InternalError);
  try {
    throw_error(ErrorKind::Input, "bad file", true);
  } catch (const Error& e) {
    EXPECT_TRUE(e.collective());
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    EXPECT_STREQ(e.what(), "bad file");
  }
}

TEST(Error, AssertNamesTheConditionAndPlace) {
  try {
    HIPI_ASSERT(1 + 1 == 3);
    FAIL() << "HIPI_ASSERT did not throw";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("1 + 1 == 3"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("test_error.cpp"), std::string::npos);
  }
  EXPECT_NO_THROW(HIPI_ASSERT(2 + 2 == 4));
}
