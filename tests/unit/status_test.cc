#include "status.h"

#include <errno.h>
#include <gtest/gtest.h>

namespace sessionkeyring {
namespace {

TEST(StatusTest, DefaultIsSuccess) {
  const Status status;

  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.error_number(), 0);
  EXPECT_EQ(status.Describe(), "success");
}

TEST(StatusTest, FailureKeepsTheOperationAndTheErrno) {
  const Status status = Status::Failure("join a new session keyring", EDQUOT);

  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error_number(), EDQUOT);
  EXPECT_EQ(status.operation(), "join a new session keyring");
}

TEST(StatusTest, FailureWithoutAnErrnoIsStillAFailure) {
  const Status status = Status::Failure("read back the IDs", 0);

  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error_number(), -1);
}

TEST(StatusTest, DescribeReadsAsALogLine) {
  const Status status = Status::Failure("join a new session keyring", EDQUOT);

  EXPECT_EQ(status.Describe(),
            "Failed to join a new session keyring: Disk quota exceeded");
}

TEST(StatusTest, DescribeOfAFailureWithoutErrnoSaysUnexpectedResult) {
  const Status status = Status::Failure("restore the IDs", -1);

  EXPECT_EQ(status.Describe(), "Failed to restore the IDs: unexpected result");
}

TEST(ErrnoTextTest, IsTheUntranslatedDescription) {
  EXPECT_EQ(ErrnoText(EKEYREVOKED), "Key has been revoked");
}

TEST(ErrnoTextTest, NamesAnUnknownErrnoByNumber) {
  EXPECT_EQ(ErrnoText(99999), "errno 99999");
}

TEST(StatusOrTest, HoldsAValue) {
  const StatusOr<int> result = 42;

  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.value(), 42);
  EXPECT_EQ(result.error_number(), 0);
  EXPECT_TRUE(result.status().ok());
}

TEST(StatusOrTest, HoldsAFailure) {
  const StatusOr<int> result = Status::Failure("look up a keyring", ENOKEY);

  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.error_number(), ENOKEY);
  EXPECT_EQ(result.status().operation(), "look up a keyring");
}

}  // namespace
}  // namespace sessionkeyring
