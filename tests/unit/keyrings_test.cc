#include "keyrings.h"

#include <gtest/gtest.h>

#include <string>

namespace sessionkeyring {
namespace {

// The kernel writes KEYCTL_DESCRIBE as "type;uid;gid;perm;description",
// with the permissions in hexadecimal and the description last, so that
// the description itself may contain ';'.

TEST(ParseKeyDescriptionTest, ParsesASessionKeyring) {
  KeyDescription description;

  ASSERT_TRUE(
      ParseKeyDescription("keyring;1000;100;3f030000;_ses", description));

  EXPECT_EQ(description.type, "keyring");
  EXPECT_EQ(description.uid, 1000u);
  EXPECT_EQ(description.gid, 100u);
  EXPECT_EQ(description.permissions, 0x3f030000u);
  EXPECT_EQ(description.description, "_ses");
}

TEST(ParseKeyDescriptionTest, ParsesTheLargestUnsignedIds) {
  KeyDescription description;

  ASSERT_TRUE(ParseKeyDescription("keyring;65534;4294967295;1f3f0000;_uid.1",
                                  description));

  EXPECT_EQ(description.uid, 65534u);
  EXPECT_EQ(description.gid, 4294967295u);
}

TEST(ParseKeyDescriptionTest, KeepsSemicolonsInTheDescription) {
  KeyDescription description;

  ASSERT_TRUE(ParseKeyDescription("user;0;0;3f010000;a;b;;c", description));

  EXPECT_EQ(description.type, "user");
  EXPECT_EQ(description.description, "a;b;;c");
}

TEST(ParseKeyDescriptionTest, AcceptsAnEmptyDescription) {
  KeyDescription description;

  ASSERT_TRUE(ParseKeyDescription("keyring;0;0;3f030000;", description));

  EXPECT_EQ(description.description, "");
}

TEST(ParseKeyDescriptionTest, ReadsPermissionsAsHexadecimalInEitherCase) {
  KeyDescription lower;
  KeyDescription upper;

  ASSERT_TRUE(ParseKeyDescription("keyring;0;0;3f0b0a01;x", lower));
  ASSERT_TRUE(ParseKeyDescription("keyring;0;0;3F0B0A01;x", upper));

  EXPECT_EQ(lower.permissions, 0x3f0b0a01u);
  EXPECT_EQ(upper.permissions, 0x3f0b0a01u);
}

TEST(ParseKeyDescriptionTest, ReadsIdsAsDecimal) {
  KeyDescription description;

  ASSERT_TRUE(ParseKeyDescription("keyring;010;020;0;x", description));

  EXPECT_EQ(description.uid, 10u);
  EXPECT_EQ(description.gid, 20u);
}

// The kernel prints uid and gid with "%d", so an ID of 2^31 or more (which
// a user namespace or a large directory can hand out) arrives negative.
TEST(ParseKeyDescriptionTest, ReadsIdsTheKernelPrintedAsNegative) {
  KeyDescription description;

  ASSERT_TRUE(ParseKeyDescription("keyring;-2;-3;3f030000;_ses", description));

  EXPECT_EQ(description.uid, 4294967294u);
  EXPECT_EQ(description.gid, 4294967293u);
}

class MalformedDescriptionTest : public ::testing::TestWithParam<const char*> {
};

TEST_P(MalformedDescriptionTest, IsRejectedAndLeavesTheOutputAlone) {
  KeyDescription description;
  description.type = "untouched";
  description.uid = 7;

  EXPECT_FALSE(ParseKeyDescription(GetParam(), description));

  EXPECT_EQ(description.type, "untouched");
  EXPECT_EQ(description.uid, 7u);
}

INSTANTIATE_TEST_SUITE_P(
    BadShapes, MalformedDescriptionTest,
    ::testing::Values(
        // Missing fields or separators.
        "", "keyring", "keyring;0;0", "keyring;0;0;3f030000", ";;;;",
        // Numbers that are empty, not numbers, signed or padded.
        "keyring;;0;3f030000;_ses", "keyring;0;;3f030000;_ses",
        "keyring;0;0;;_ses", "keyring;alice;0;3f030000;_ses",
        "keyring;1000a;0;3f030000;_ses", "keyring;0;1x;3f030000;_ses",
        "keyring; 0;0;3f030000;_ses", "keyring;0 ;0;3f030000;_ses",
        "keyring;+0;0;3f030000;_ses",
        // Permissions that are not plain hexadecimal.
        "keyring;0;0;0x3f;_ses", "keyring;0;0;3f03zz00;_ses",
        "keyring;0;0;-1;_ses",
        // Values that do not fit.
        "keyring;4294967296;0;3f030000;_ses",
        "keyring;0;99999999999;3f030000;_ses", "keyring;0;0;1ffffffff;_ses"));

}  // namespace
}  // namespace sessionkeyring
