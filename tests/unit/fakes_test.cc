// The fakes stand in for the kernel in every other test, so the few kernel
// rules they model are checked here first.

#include "fakes.h"

#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sessionkeyring::test {
namespace {

using ::testing::ElementsAre;

TEST(FakeKeyringsTest, LookingUpAMissingSessionKeyringSubscribesToTheUsers) {
  FakeThread thread(SameIds(1000, 100));

  const StatusOr<KeySerial> session = thread.keyrings.Resolve(kSessionKeyring);

  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session.value(), thread.keyrings.UserSessionKeyring(1000));
  EXPECT_EQ(thread.keyrings.session_keyring(), session.value());
}

TEST(FakeKeyringsTest, UserKeyringsFollowTheRealUid) {
  FakeThread thread(ThreadIds{{1000, 0, 0}, {0, 0, 0}});

  const StatusOr<KeySerial> user = thread.keyrings.Resolve(kUserKeyring);

  ASSERT_TRUE(user.ok());
  EXPECT_EQ(thread.keyrings.Get(user.value()).description, "_uid.1000");
}

TEST(FakeKeyringsTest, UserSessionKeyringLinksTheUserKeyring) {
  FakeThread thread(RootIds());

  const KeySerial user_session = thread.keyrings.UserSessionKeyring(1000);

  EXPECT_TRUE(thread.keyrings.IsLinked(thread.keyrings.UserKeyring(1000),
                                       user_session));
}

TEST(FakeKeyringsTest, JoinedKeyringBelongsToTheRealIds) {
  FakeThread thread(ThreadIds{{1000, 0, 0}, {100, 0, 0}});

  const StatusOr<KeySerial> joined = thread.keyrings.JoinNewSessionKeyring();

  ASSERT_TRUE(joined.ok());
  const FakeKeyring& keyring = thread.keyrings.Get(joined.value());
  EXPECT_EQ(keyring.uid, 1000u);
  EXPECT_EQ(keyring.gid, 100u);
  EXPECT_EQ(keyring.permissions, kSessionKeyringPermissions);
  EXPECT_EQ(keyring.description, "_ses");
  EXPECT_EQ(thread.keyrings.session_keyring(), joined.value());
}

TEST(FakeKeyringsTest, RevokedSessionKeyringFailsToResolve) {
  FakeThread thread(RootIds());
  const KeySerial keyring = thread.keyrings.AddKeyring(0, 0, "_ses");
  thread.keyrings.SubscribeTo(keyring);
  ASSERT_TRUE(thread.keyrings.Revoke(keyring).ok());

  EXPECT_EQ(thread.keyrings.Resolve(kSessionKeyring).error_number(),
            EKEYREVOKED);
  EXPECT_EQ(thread.keyrings.Revoke(keyring).error_number(), EKEYREVOKED);
}

TEST(FakeKeyringsTest, DescribeReportsOwnerAndPermissions) {
  FakeThread thread(RootIds());
  const KeySerial keyring = thread.keyrings.AddKeyring(1001, 1002, "mine");

  const StatusOr<KeyDescription> description =
      thread.keyrings.Describe(keyring);

  ASSERT_TRUE(description.ok());
  EXPECT_EQ(description.value().uid, 1001u);
  EXPECT_EQ(description.value().gid, 1002u);
  EXPECT_EQ(description.value().description, "mine");
}

TEST(FakeKeyringsTest, RecordsCallsInOrder) {
  FakeThread thread(RootIds());

  thread.keyrings.Resolve(kSessionKeyring).status().IgnoreError();
  thread.keyrings.Link(kUserKeyring, kSessionKeyring).IgnoreError();

  EXPECT_THAT(thread.calls.calls(),
              ElementsAre(Call::Resolve(kSessionKeyring),
                          Call::Link(kUserKeyring, kSessionKeyring)));
}

TEST(CallLogTest, FailsOnlyTheChosenCall) {
  FakeThread thread(RootIds());
  thread.calls.FailNth(Op::kResolve, 2, EACCES);

  const int first = thread.keyrings.Resolve(kUserKeyring).error_number();
  const int second = thread.keyrings.Resolve(kUserKeyring).error_number();
  const int third = thread.keyrings.Resolve(kUserKeyring).error_number();

  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, EACCES);
  EXPECT_EQ(third, 0);
}

TEST(CallLogTest, FailNextCountsFromNow) {
  FakeThread thread(RootIds());
  thread.keyrings.JoinNewSessionKeyring().status().IgnoreError();

  thread.calls.FailNext(Op::kJoin, EDQUOT);

  EXPECT_EQ(thread.keyrings.JoinNewSessionKeyring().error_number(), EDQUOT);
}

TEST(FakeCredentialsTest, PrivilegedThreadMaySetAnyIds) {
  FakeThread thread(RootIds());

  ASSERT_TRUE(thread.credentials.SetUids({5, 6, 7}).ok());

  EXPECT_EQ(thread.credentials.ids().uid, (IdTriple<uid_t>{5, 6, 7}));
}

TEST(FakeCredentialsTest, UnprivilegedThreadMayOnlyShuffleItsOwnIds) {
  FakeThread thread(ThreadIds{{1000, 1001, 1002}, {100, 100, 100}});

  EXPECT_TRUE(thread.credentials.SetUids({1002, 1000, 1001}).ok());
  EXPECT_EQ(thread.credentials.SetUids({1000, 1000, 0}).error_number(), EPERM);
  EXPECT_EQ(thread.credentials.SetGids({100, 100, 0}).error_number(), EPERM);
}

TEST(FakeCredentialsTest, MisappliedSetReportsSuccessWithTheWrongId) {
  FakeThread thread(RootIds());
  thread.credentials.MisapplyNth(Op::kSetGids, 1, 9);

  ASSERT_TRUE(thread.credentials.SetGids({5, 0, 0}).ok());

  EXPECT_EQ(thread.credentials.ids().gid, (IdTriple<gid_t>{9, 0, 0}));
}

}  // namespace
}  // namespace sessionkeyring::test
