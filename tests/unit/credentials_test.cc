#include "credentials.h"

#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "fakes.h"

namespace sessionkeyring {
namespace {

using test::Call;
using test::FakeThread;
using test::Op;
using test::RootIds;
using test::SameIds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// All six IDs differ, so that a restore that mixes up real, effective and
// saved, or uid and gid, cannot pass by accident. The effective uid is 0,
// which is what lets the thread switch and come back.
const ThreadIds kMixedIds{{0, 0, 7}, {3, 4, 5}};

// A setuid-root program run by uid 1000 (su, sudo, a setuid helper).
const ThreadIds kSetuidRootIds{{1000, 0, 0}, {1000, 1000, 1000}};

constexpr uid_t kTargetUid = 1001;
constexpr gid_t kTargetGid = 1002;

TEST(FormatIdsTest, ListsRealEffectiveAndSavedUidsThenGids) {
  EXPECT_EQ(FormatIds(ThreadIds{{1, 2, 3}, {4, 5, 6}}), "uid 1/2/3 gid 4/5/6");
}

TEST(ScopedRealIdsTest, SwitchSetsTheGidBeforeTheUidAndReadsThemBack) {
  FakeThread thread(RootIds());
  ScopedRealIds identity(thread.credentials);

  ASSERT_TRUE(identity.Switch(kTargetUid, kTargetGid).ok());

  EXPECT_THAT(thread.calls.calls(),
              ElementsAre(Call::GetIds(), Call::SetGids({kTargetGid, 0, 0}),
                          Call::SetUids({kTargetUid, 0, 0}), Call::GetIds()));
  EXPECT_EQ(thread.credentials.ids(),
            (ThreadIds{{kTargetUid, 0, 0}, {kTargetGid, 0, 0}}));
  EXPECT_EQ(identity.saved(), RootIds());
}

TEST(ScopedRealIdsTest, RestoreSetsTheUidBeforeTheGidAndReadsThemBack) {
  FakeThread thread(RootIds());
  ScopedRealIds identity(thread.credentials);
  ASSERT_TRUE(identity.Switch(kTargetUid, kTargetGid).ok());
  const size_t mark = thread.calls.calls().size();

  ASSERT_TRUE(identity.Restore().ok());

  EXPECT_THAT(thread.calls.CallsSince(mark),
              ElementsAre(Call::SetUids({0, 0, 0}), Call::SetGids({0, 0, 0}),
                          Call::GetIds()));
  EXPECT_EQ(thread.credentials.ids(), RootIds());
}

TEST(ScopedRealIdsTest, UnprivilegedSwitchWithNoWayBackChangesNothing) {
  // Could set its real gid to 1002 (its effective gid), but then 1001
  // would no longer be among its gids and the way back would be refused.
  const ThreadIds start{{1001, 1001, 1001}, {1001, 1002, 1002}};
  FakeThread thread(start);
  ScopedRealIds identity(thread.credentials);

  const Status status = identity.Switch(1002, 1002);

  EXPECT_EQ(status.error_number(), EPERM);
  EXPECT_THAT(status.Describe(), HasSubstr("could not switch back"));
  EXPECT_EQ(thread.calls.Count(Op::kSetGids), 0);
  EXPECT_EQ(thread.calls.Count(Op::kSetUids), 0);
  EXPECT_EQ(thread.credentials.ids(), start);
}

TEST(ScopedRealIdsTest, UnprivilegedSwitchAmongItsOwnIdsGoesAndComesBack) {
  // 1001 stays its effective ID, so it can come back to it.
  const ThreadIds start{{1001, 1001, 1002}, {1001, 1001, 1002}};
  FakeThread thread(start);
  ScopedRealIds identity(thread.credentials);

  ASSERT_TRUE(identity.Switch(1002, 1002).ok());
  ASSERT_TRUE(identity.Restore().ok());

  EXPECT_EQ(thread.credentials.ids(), start);
}

TEST(ScopedRealIdsTest, SwitchChangesOnlyTheRealIds) {
  FakeThread thread(kMixedIds);
  ScopedRealIds identity(thread.credentials);

  ASSERT_TRUE(identity.Switch(kTargetUid, kTargetGid).ok());

  EXPECT_EQ(thread.credentials.ids(),
            (ThreadIds{{kTargetUid, 0, 7}, {kTargetGid, 4, 5}}));
}

TEST(ScopedRealIdsTest, RestoreGivesBackAllSixIdsExactly) {
  FakeThread thread(kMixedIds);
  ScopedRealIds identity(thread.credentials);
  ASSERT_TRUE(identity.Switch(kTargetUid, kTargetGid).ok());

  ASSERT_TRUE(identity.Restore().ok());

  EXPECT_EQ(thread.credentials.ids(), kMixedIds);
}

// pam_keyinit's revoke left a root caller with the user's gid as its saved
// gid; setting whole triples cannot leak one.
TEST(ScopedRealIdsTest, RootCallerDoesNotKeepTheTargetGidAsSavedGid) {
  FakeThread thread(RootIds());
  ScopedRealIds identity(thread.credentials);
  ASSERT_TRUE(identity.Switch(kTargetUid, kTargetGid).ok());

  ASSERT_TRUE(identity.Restore().ok());

  EXPECT_EQ(thread.credentials.ids().gid, (IdTriple<gid_t>{0, 0, 0}));
}

TEST(ScopedRealIdsTest, SetuidRootCallerComesBackExactly) {
  FakeThread thread(kSetuidRootIds);
  ScopedRealIds identity(thread.credentials);
  ASSERT_TRUE(identity.Switch(kTargetUid, kTargetGid).ok());
  EXPECT_EQ(thread.credentials.ids(),
            (ThreadIds{{kTargetUid, 0, 0}, {kTargetGid, 1000, 1000}}));

  ASSERT_TRUE(identity.Restore().ok());

  EXPECT_EQ(thread.credentials.ids(), kSetuidRootIds);
}

TEST(ScopedRealIdsTest, SwitchToTheCurrentIdsOnlyReadsThem) {
  FakeThread thread(SameIds(kTargetUid, kTargetGid));
  ScopedRealIds identity(thread.credentials);

  ASSERT_TRUE(identity.Switch(kTargetUid, kTargetGid).ok());
  ASSERT_TRUE(identity.Restore().ok());

  EXPECT_THAT(thread.calls.calls(), ElementsAre(Call::GetIds()));
}

TEST(ScopedRealIdsTest, SwitchOfOnlyTheGidLeavesTheUidsAlone) {
  FakeThread thread(RootIds());
  ScopedRealIds identity(thread.credentials);

  ASSERT_TRUE(identity.Switch(0, kTargetGid).ok());

  EXPECT_THAT(thread.calls.calls(),
              ElementsAre(Call::GetIds(), Call::SetGids({kTargetGid, 0, 0}),
                          Call::GetIds()));
}

TEST(ScopedRealIdsTest, RestoreWithoutASwitchDoesNothing) {
  FakeThread thread(RootIds());
  ScopedRealIds identity(thread.credentials);

  EXPECT_TRUE(identity.Restore().ok());

  EXPECT_THAT(thread.calls.calls(), IsEmpty());
}

TEST(ScopedRealIdsTest, DestructorRestoresWhenRestoreWasNotCalled) {
  FakeThread thread(kMixedIds);
  {
    ScopedRealIds identity(thread.credentials);
    ASSERT_TRUE(identity.Switch(kTargetUid, kTargetGid).ok());
  }

  EXPECT_EQ(thread.credentials.ids(), kMixedIds);
}

TEST(ScopedRealIdsTest, DestructorDoesNothingAfterASuccessfulRestore) {
  FakeThread thread(RootIds());
  size_t calls_after_restore = 0;
  {
    ScopedRealIds identity(thread.credentials);
    ASSERT_TRUE(identity.Switch(kTargetUid, kTargetGid).ok());
    ASSERT_TRUE(identity.Restore().ok());
    calls_after_restore = thread.calls.calls().size();
  }

  EXPECT_EQ(thread.calls.calls().size(), calls_after_restore);
}

TEST(ScopedRealIdsTest, UnprivilegedCallerCannotSwitchToAnotherUser) {
  const ThreadIds start = SameIds(1000, 100);
  FakeThread thread(start);
  ScopedRealIds identity(thread.credentials);

  const Status status = identity.Switch(kTargetUid, kTargetGid);

  EXPECT_EQ(status.error_number(), EPERM);
  EXPECT_EQ(thread.credentials.ids(), start);
}

// newgrp leaves a user with a real gid other than the passwd one.
TEST(ScopedRealIdsTest, UnprivilegedCallerCannotSwitchOnlyItsGid) {
  const ThreadIds start = SameIds(1000, 100);
  FakeThread thread(start);
  ScopedRealIds identity(thread.credentials);

  const Status status = identity.Switch(1000, kTargetGid);

  EXPECT_EQ(status.error_number(), EPERM);
  EXPECT_EQ(thread.credentials.ids(), start);
}

TEST(ScopedRealIdsTest, SwitchDetectsIdsThatReadBackWrong) {
  FakeThread thread(kMixedIds);
  thread.credentials.MisapplyNth(Op::kSetUids, 1, 4242);
  ScopedRealIds identity(thread.credentials);

  const Status status = identity.Switch(kTargetUid, kTargetGid);

  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error_number(), -1);
  EXPECT_THAT(status.Describe(), HasSubstr("read back as uid 4242/0/7"));
  EXPECT_EQ(thread.credentials.ids(), kMixedIds);
}

TEST(ScopedRealIdsTest, RestoreDetectsIdsThatReadBackWrong) {
  FakeThread thread(kMixedIds);
  thread.credentials.MisapplyNth(Op::kSetUids, 2, 4242);
  ScopedRealIds identity(thread.credentials);
  ASSERT_TRUE(identity.Switch(kTargetUid, kTargetGid).ok());

  const Status status = identity.Restore();

  EXPECT_EQ(status.error_number(), -1);
  EXPECT_THAT(status.Describe(), HasSubstr("read back as uid 4242/0/7"));
}

TEST(ScopedRealIdsTest, RestoreStillSetsTheGidsWhenTheUidsFail) {
  FakeThread thread(kMixedIds);
  thread.calls.FailNth(Op::kSetUids, 2, EPERM);
  ScopedRealIds identity(thread.credentials);
  ASSERT_TRUE(identity.Switch(kTargetUid, kTargetGid).ok());

  const Status status = identity.Restore();

  EXPECT_EQ(status.error_number(), EPERM);
  EXPECT_EQ(thread.credentials.ids().gid, kMixedIds.gid);
}

// Every setresuid refused: the gid went over and came back, the uid never
// moved. The failure to report is the switch's, not a restore that had
// nothing left to undo.
TEST(ScopedRealIdsTest, RefusedUidSwitchIsReportedAsTheSwitchNotTheRestore) {
  FakeThread thread(kMixedIds);
  thread.calls.FailEvery(Op::kSetUids, EPERM);
  ScopedRealIds identity(thread.credentials);

  const Status status = identity.Switch(kTargetUid, kTargetGid);

  EXPECT_EQ(status.error_number(), EPERM);
  EXPECT_THAT(status.operation(), HasSubstr("switch to uid"));
  EXPECT_THAT(status.operation(), Not(HasSubstr("restore")));
  EXPECT_EQ(thread.credentials.ids(), kMixedIds);
}

// A failure injected at each credential call of one switch-and-restore.
struct CallFailure {
  const char* name;
  Op op;
  int nth;
  int error_number;
};

void PrintTo(const CallFailure& failure, std::ostream* os) {
  *os << failure.name << " failing with " << ErrnoText(failure.error_number);
}

std::string CallFailureName(const ::testing::TestParamInfo<CallFailure>& info) {
  return info.param.name;
}

class SwitchFailureTest : public ::testing::TestWithParam<CallFailure> {
 protected:
  SwitchFailureTest() {
    thread_.calls.FailNth(GetParam().op, GetParam().nth,
                          GetParam().error_number);
  }

  FakeThread thread_{kMixedIds};
};

TEST_P(SwitchFailureTest, ReportsTheErrnoOfTheFailedCall) {
  ScopedRealIds identity(thread_.credentials);

  const Status status = identity.Switch(kTargetUid, kTargetGid);

  EXPECT_EQ(status.error_number(), GetParam().error_number);
}

TEST_P(SwitchFailureTest, PutsTheIdsBackBeforeReturning) {
  ScopedRealIds identity(thread_.credentials);

  identity.Switch(kTargetUid, kTargetGid).IgnoreError();

  EXPECT_EQ(thread_.credentials.ids(), kMixedIds);
}

TEST_P(SwitchFailureTest, LeavesNothingForTheDestructorToDo) {
  size_t calls_after_switch = 0;
  {
    ScopedRealIds identity(thread_.credentials);
    identity.Switch(kTargetUid, kTargetGid).IgnoreError();
    calls_after_switch = thread_.calls.calls().size();
  }

  EXPECT_EQ(thread_.calls.calls().size(), calls_after_switch);
}

INSTANTIATE_TEST_SUITE_P(
    EachCall, SwitchFailureTest,
    ::testing::Values(CallFailure{"ReadBefore", Op::kGetIds, 1, EFAULT},
                      CallFailure{"SetGids", Op::kSetGids, 1, EPERM},
                      CallFailure{"SetUids", Op::kSetUids, 1, EAGAIN},
                      CallFailure{"ReadBack", Op::kGetIds, 2, EFAULT}),
    CallFailureName);

class RestoreFailureTest : public ::testing::TestWithParam<CallFailure> {
 protected:
  RestoreFailureTest() {
    thread_.calls.FailNth(GetParam().op, GetParam().nth,
                          GetParam().error_number);
  }

  FakeThread thread_{kMixedIds};
};

TEST_P(RestoreFailureTest, ReportsTheErrnoOfTheFailedCall) {
  ScopedRealIds identity(thread_.credentials);
  ASSERT_TRUE(identity.Switch(kTargetUid, kTargetGid).ok());

  const Status status = identity.Restore();

  EXPECT_EQ(status.error_number(), GetParam().error_number);
}

// The failure was transient here, so the destructor's second attempt
// brings every ID back.
TEST_P(RestoreFailureTest, DestructorTriesAgainAndPutsTheIdsBack) {
  {
    ScopedRealIds identity(thread_.credentials);
    ASSERT_TRUE(identity.Switch(kTargetUid, kTargetGid).ok());
    identity.Restore().IgnoreError();
  }

  EXPECT_EQ(thread_.credentials.ids(), kMixedIds);
}

INSTANTIATE_TEST_SUITE_P(
    EachCall, RestoreFailureTest,
    ::testing::Values(CallFailure{"SetUids", Op::kSetUids, 2, EPERM},
                      CallFailure{"SetGids", Op::kSetGids, 2, EPERM},
                      CallFailure{"ReadBack", Op::kGetIds, 3, EFAULT}),
    CallFailureName);

}  // namespace
}  // namespace sessionkeyring
