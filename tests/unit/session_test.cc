// The open decision and revocation, against the fake kernel.
//
// Every case checks three things: the outcome, that the caller's six IDs
// end exactly as they started, and what an administrator would see in
// syslog without `debug` (the levels of the non-debug lines). A failure
// injected at each credential and kernel call of an open is covered once
// for all in open_failure_test.cc.

#include "session.h"

#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <tuple>

#include "fakes.h"

namespace sessionkeyring {
namespace {

using test::Args;
using test::Call;
using test::FakeKeyring;
using test::FakeThread;
using test::kAlice;
using test::kBob;
using test::kRoot;
using test::kSessionKeyringPermissions;
using test::Op;
using test::RootIds;
using test::SameIds;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Kind = OpenOutcome::Kind;

class SessionTestBase : public ::testing::Test {
 protected:
  explicit SessionTestBase(const ThreadIds& start) : thread_(start) {}

  OpenOutcome Open(const Options& options = {}, const Target& target = kAlice) {
    return OpenSessionKeyring(thread_.services, options, target);
  }

  // Makes the thread start out in a keyring of that owner, as a process
  // started by a service, a container runtime or `keyctl session` does.
  KeySerial Inherit(uid_t uid, gid_t gid) {
    const KeySerial keyring = thread_.keyrings.AddKeyring(uid, gid, "_ses");
    thread_.keyrings.SubscribeTo(keyring);
    return keyring;
  }

  void ExpectIdsAsAtStart() const {
    EXPECT_EQ(thread_.credentials.ids(), thread_.start);
  }

  std::vector<LogLevel> VisibleLevels() const {
    return thread_.log.VisibleLevels();
  }

  std::string OnlyVisibleMessage() const {
    return thread_.log.OnlyVisibleMessage();
  }

  int CallsOf(Op op) const { return thread_.calls.Count(op); }

  // A fresh "_ses" that the thread is now in, owned by the target, with
  // the target's user keyring linked in: what pam_keyinit makes too.
  void ExpectFreshKeyringFor(const OpenOutcome& outcome, const Target& target) {
    EXPECT_EQ(outcome.kind, Kind::kCreated);
    ASSERT_NE(outcome.created, 0);
    EXPECT_EQ(thread_.keyrings.session_keyring(), outcome.created);
    const FakeKeyring& keyring = thread_.keyrings.Get(outcome.created);
    EXPECT_EQ(std::tie(keyring.uid, keyring.gid),
              std::tie(target.uid, target.gid));
    EXPECT_EQ(keyring.permissions, kSessionKeyringPermissions);
    EXPECT_EQ(keyring.description, "_ses");
    EXPECT_FALSE(keyring.revoked);
    EXPECT_TRUE(thread_.keyrings.IsLinked(
        thread_.keyrings.UserKeyring(target.uid), outcome.created));
  }

  FakeThread thread_;
};

class OpenSessionKeyringTest : public SessionTestBase {
 protected:
  OpenSessionKeyringTest() : SessionTestBase(RootIds()) {}
};

// The decision. pam_keyinit makes a fresh keyring only for a thread with
// no session keyring or in the target's own user-session keyring, and
// keeps any other; this module keeps an inherited keyring only when the
// target owns it, the target is root, or `allow_foreign` asks for
// pam_keyinit's rule.

TEST_F(OpenSessionKeyringTest, ThreadWithoutSessionKeyringGetsAFreshOne) {
  const OpenOutcome outcome = Open();

  ExpectFreshKeyringFor(outcome, kAlice);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(OpenSessionKeyringTest, SuccessfulOpenSwitchesActsAndRestoresInOrder) {
  const OpenOutcome outcome = Open();

  ASSERT_EQ(outcome.kind, Kind::kCreated);
  EXPECT_THAT(thread_.calls.calls(),
              ElementsAre(Call::GetIds(), Call::SetGids({kAlice.gid, 0, 0}),
                          Call::SetUids({kAlice.uid, 0, 0}), Call::GetIds(),
                          Call::Resolve(kSessionKeyring),
                          Call::Resolve(kUserSessionKeyring), Call::Join(),
                          Call::Link(kUserKeyring, outcome.created),
                          Call::SetUids({0, 0, 0}), Call::SetGids({0, 0, 0}),
                          Call::GetIds()));
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(OpenSessionKeyringTest, TargetsOwnUserSessionKeyringIsReplaced) {
  thread_.keyrings.SubscribeTo(thread_.keyrings.UserSessionKeyring(1000));

  const OpenOutcome outcome = Open();

  ExpectFreshKeyringFor(outcome, kAlice);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// pam_keyinit keeps this one, and the user's shell then possesses root's
// user keyring.
TEST_F(OpenSessionKeyringTest, RootsUserSessionKeyringIsReplaced) {
  const KeySerial roots = thread_.keyrings.UserSessionKeyring(0);
  thread_.keyrings.SubscribeTo(roots);

  const OpenOutcome outcome = Open();

  ExpectFreshKeyringFor(outcome, kAlice);
  EXPECT_FALSE(thread_.keyrings.IsLinked(roots, outcome.created));
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(OpenSessionKeyringTest, RootOwnedAnonymousKeyringIsReplaced) {
  const KeySerial inherited = Inherit(0, 0);

  const OpenOutcome outcome = Open();

  ExpectFreshKeyringFor(outcome, kAlice);
  EXPECT_NE(outcome.created, inherited);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// Cron jobs of different users would otherwise share the first one's
// keyring.
TEST_F(OpenSessionKeyringTest, AnotherUsersKeyringIsReplaced) {
  Inherit(kBob.uid, kBob.gid);

  const OpenOutcome outcome = Open();

  ExpectFreshKeyringFor(outcome, kAlice);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(OpenSessionKeyringTest, KeyringOwnedByTheTargetIsKept) {
  const KeySerial inherited = Inherit(kAlice.uid, kAlice.gid);

  const OpenOutcome outcome = Open();

  EXPECT_EQ(outcome.kind, Kind::kKept);
  EXPECT_EQ(outcome.created, 0);
  EXPECT_EQ(thread_.keyrings.session_keyring(), inherited);
  EXPECT_EQ(CallsOf(Op::kJoin), 0);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// Ownership is the uid's: the group of the keyring does not matter.
TEST_F(OpenSessionKeyringTest, KeyringOwnedByTheTargetInAnotherGroupIsKept) {
  Inherit(kAlice.uid, 0);

  const OpenOutcome outcome = Open();

  EXPECT_EQ(outcome.kind, Kind::kKept);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// sudo-style percolation upwards: root may keep whatever it inherits.
TEST_F(OpenSessionKeyringTest, RootTargetKeepsAnInheritedKeyring) {
  const KeySerial inherited = Inherit(kBob.uid, kBob.gid);

  const OpenOutcome outcome = Open({}, kRoot);

  EXPECT_EQ(outcome.kind, Kind::kKept);
  EXPECT_EQ(thread_.keyrings.session_keyring(), inherited);
  EXPECT_EQ(CallsOf(Op::kDescribe), 0);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(OpenSessionKeyringTest, RootTargetWithoutSessionKeyringGetsAFreshOne) {
  const OpenOutcome outcome = Open({}, kRoot);

  ExpectFreshKeyringFor(outcome, kRoot);
  EXPECT_EQ(CallsOf(Op::kSetUids) + CallsOf(Op::kSetGids), 0);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(OpenSessionKeyringTest, AllowForeignKeepsAnotherUsersKeyring) {
  const KeySerial inherited = Inherit(0, 0);

  const OpenOutcome outcome = Open(Args({"allow_foreign"}));

  EXPECT_EQ(outcome.kind, Kind::kKept);
  EXPECT_EQ(thread_.keyrings.session_keyring(), inherited);
  EXPECT_EQ(CallsOf(Op::kJoin), 0);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(OpenSessionKeyringTest, AllowForeignStillReplacesTheUserSessionKeyring) {
  thread_.keyrings.SubscribeTo(thread_.keyrings.UserSessionKeyring(1000));

  const OpenOutcome outcome = Open(Args({"allow_foreign"}));

  ExpectFreshKeyringFor(outcome, kAlice);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// pam_keyinit fails here: the lookup of the revoked keyring answers
// EKEYREVOKED, so a second session in the same thread could never open.
TEST_F(OpenSessionKeyringTest, RevokedKeyringIsReplaced) {
  const KeySerial revoked = Inherit(kAlice.uid, kAlice.gid);
  thread_.keyrings.MarkRevoked(revoked);

  const OpenOutcome outcome = Open();

  ExpectFreshKeyringFor(outcome, kAlice);
  EXPECT_NE(outcome.created, revoked);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(OpenSessionKeyringTest, ForceReplacesEvenTheTargetsOwnKeyringUnseen) {
  const KeySerial inherited = Inherit(kAlice.uid, kAlice.gid);

  const OpenOutcome outcome = Open(Args({"force"}));

  ExpectFreshKeyringFor(outcome, kAlice);
  EXPECT_NE(outcome.created, inherited);
  EXPECT_EQ(CallsOf(Op::kResolve), 0);
  EXPECT_EQ(CallsOf(Op::kDescribe), 0);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(OpenSessionKeyringTest, DescribeFailureReplacesTheKeyringWithAWarning) {
  Inherit(0, 0);
  thread_.calls.FailNext(Op::kDescribe, EACCES);

  const OpenOutcome outcome = Open();

  ExpectFreshKeyringFor(outcome, kAlice);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kWarning));
  EXPECT_THAT(OnlyVisibleMessage(), HasSubstr("Permission denied"));
}

// Revoked between the lookup and the describe: the same as revoked before.
TEST_F(OpenSessionKeyringTest, DescribeOfARevokedKeyringReplacesItQuietly) {
  Inherit(0, 0);
  thread_.calls.FailNext(Op::kDescribe, EKEYREVOKED);

  const OpenOutcome outcome = Open();

  ExpectFreshKeyringFor(outcome, kAlice);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// No keyring support at all: a kernel without CONFIG_KEYS (ENOSYS) or a
// container whose seccomp profile blocks keyctl (EPERM), seen on the first
// keyring call, which is the join when `force` skips the lookups.
class NoKeyringSupportTest
    : public SessionTestBase,
      public ::testing::WithParamInterface<std::tuple<int, bool>> {
 protected:
  NoKeyringSupportTest() : SessionTestBase(RootIds()) {
    thread_.calls.FailEvery(force() ? Op::kJoin : Op::kResolve, error_number());
  }

  int error_number() const { return std::get<0>(GetParam()); }
  bool force() const { return std::get<1>(GetParam()); }

  Options WithOptions(bool strict) const {
    Options options;
    options.force = force();
    options.strict = strict;
    return options;
  }
};

std::string NoSupportName(
    const ::testing::TestParamInfo<std::tuple<int, bool>>& info) {
  return std::string(std::get<0>(info.param) == ENOSYS ? "Enosys" : "Eperm") +
         (std::get<1>(info.param) ? "Force" : "NoForce");
}

TEST_P(NoKeyringSupportTest, IsUnavailableWithOneNotice) {
  const OpenOutcome outcome = Open(WithOptions(/*strict=*/false));

  EXPECT_EQ(outcome.kind, Kind::kUnavailable);
  EXPECT_EQ(outcome.created, 0);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kNotice));
}

TEST_P(NoKeyringSupportTest, StopsAtTheFirstKeyringCall) {
  Open(WithOptions(/*strict=*/false));

  EXPECT_EQ(CallsOf(Op::kResolve) + CallsOf(Op::kJoin), 1);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kNotice));
}

TEST_P(NoKeyringSupportTest, WithStrictFailsWithOneError) {
  const OpenOutcome outcome = Open(WithOptions(/*strict=*/true));

  EXPECT_EQ(outcome.kind, Kind::kFailed);
  EXPECT_EQ(outcome.created, 0);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kError));
}

INSTANTIATE_TEST_SUITE_P(NosysOrPerm, NoKeyringSupportTest,
                         ::testing::Combine(::testing::Values(ENOSYS, EPERM),
                                            ::testing::Bool()),
                         NoSupportName);

// Only the first keyring call probes for support: once a lookup has
// worked, EPERM or ENOSYS from a later call is a real refusal.
struct LaterCall {
  Op op;
  int nth;
};

void PrintTo(const LaterCall& call, std::ostream* os) {
  *os << test::OpName(call.op) << " #" << call.nth;
}

class RefusalAfterTheProbeTest
    : public SessionTestBase,
      public ::testing::WithParamInterface<std::tuple<LaterCall, int>> {
 protected:
  RefusalAfterTheProbeTest() : SessionTestBase(RootIds()) {
    const auto& [call, error_number] = GetParam();
    // A refused join is tried again as the caller; only a refusal of both
    // fails the open.
    if (call.op == Op::kJoin) {
      thread_.calls.FailEvery(call.op, error_number);
    } else {
      thread_.calls.FailNth(call.op, call.nth, error_number);
    }
  }
};

TEST_P(RefusalAfterTheProbeTest, IsNeverTakenForMissingKeyringSupport) {
  const OpenOutcome outcome = Open();

  EXPECT_NE(outcome.kind, Kind::kUnavailable);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), Not(Contains(LogLevel::kNotice)));
}

INSTANTIATE_TEST_SUITE_P(
    SecondLookupOrJoin, RefusalAfterTheProbeTest,
    ::testing::Combine(::testing::Values(LaterCall{Op::kResolve, 2},
                                         LaterCall{Op::kJoin, 1}),
                       ::testing::Values(EPERM, ENOSYS)));

// A lookup that fails, whatever the reason, must not leave the session in
// the inherited keyring: under an `optional` line that would hand the user
// the caller's keys.
class LookupFailureTest
    : public SessionTestBase,
      public ::testing::WithParamInterface<std::tuple<LaterCall, int>> {
 protected:
  LookupFailureTest() : SessionTestBase(RootIds()) {}
};

TEST_P(LookupFailureTest, ReplacesAKeyringOfAnotherUserWithOneWarning) {
  const auto& [call, error_number] = GetParam();
  const KeySerial inherited = Inherit(0, 0);
  thread_.calls.FailNth(call.op, call.nth, error_number);

  const OpenOutcome outcome = Open();

  EXPECT_EQ(outcome.kind, Kind::kCreated);
  EXPECT_NE(thread_.keyrings.session_keyring(), inherited);
  EXPECT_EQ(thread_.keyrings.Get(outcome.created).uid, kAlice.uid);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kWarning));
  EXPECT_THAT(OnlyVisibleMessage(), HasSubstr(ErrnoText(error_number)));
}

INSTANTIATE_TEST_SUITE_P(
    EitherLookup, LookupFailureTest,
    ::testing::Combine(::testing::Values(LaterCall{Op::kResolve, 1},
                                         LaterCall{Op::kResolve, 2}),
                       ::testing::Values(EACCES, ENOMEM, EINVAL)));

TEST_F(OpenSessionKeyringTest, UserSessionLookupFailureStillKeepsTheUsersOwn) {
  const KeySerial own = Inherit(kAlice.uid, kAlice.gid);
  thread_.calls.FailNth(Op::kResolve, 2, ENOKEY);

  const OpenOutcome outcome = Open();

  EXPECT_EQ(outcome.kind, Kind::kKept);
  EXPECT_EQ(thread_.keyrings.session_keyring(), own);
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kWarning));
}

class GoneKeyringTest : public SessionTestBase,
                        public ::testing::WithParamInterface<int> {
 protected:
  GoneKeyringTest() : SessionTestBase(RootIds()) {}
};

TEST_P(GoneKeyringTest, CountsAsNoKeyringWithoutAnyLine) {
  Inherit(kAlice.uid, kAlice.gid);
  thread_.calls.FailNth(Op::kResolve, 1, GetParam());

  const OpenOutcome outcome = Open();

  EXPECT_EQ(outcome.kind, Kind::kCreated);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(RevokedExpiredOrInvalidated, GoneKeyringTest,
                         ::testing::Values(EKEYREVOKED, EKEYEXPIRED, ENOKEY));

TEST_F(OpenSessionKeyringTest, JoinFailureFailsWithOneErrorNamingTheUser) {
  thread_.calls.FailEvery(Op::kJoin, EDQUOT);

  const OpenOutcome outcome = Open();

  EXPECT_EQ(outcome.kind, Kind::kFailed);
  EXPECT_EQ(outcome.created, 0);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kError));
  EXPECT_THAT(OnlyVisibleMessage(), HasSubstr("\"alice\""));
  EXPECT_THAT(OnlyVisibleMessage(), HasSubstr("Disk quota exceeded"));
}

// DESIGN.md: when the user's keyring cannot be made (a full quota, an
// unmapped uid), make it as the caller, link the user keyring if possible
// and warn, rather than leave the session in the caller's keyring.
TEST_F(OpenSessionKeyringTest, QuotaFailureFallsBackToAKeyringOfTheCaller) {
  const KeySerial inherited = Inherit(0, 0);
  thread_.calls.FailNext(Op::kJoin, EDQUOT);

  const OpenOutcome outcome = Open();

  EXPECT_EQ(outcome.kind, Kind::kCreated);
  EXPECT_NE(thread_.keyrings.session_keyring(), inherited);
  EXPECT_EQ(thread_.keyrings.Get(thread_.keyrings.session_keyring()).uid, 0u);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kWarning));
}

// The thread is already inside the new keyring, so the caller must still
// learn its serial to revoke it later.
TEST_F(OpenSessionKeyringTest, LinkFailureFailsButReportsTheKeyringItMade) {
  thread_.calls.FailNext(Op::kLink, EACCES);

  const OpenOutcome outcome = Open();

  EXPECT_EQ(outcome.kind, Kind::kFailed);
  EXPECT_NE(outcome.created, 0);
  EXPECT_EQ(outcome.created, thread_.keyrings.session_keyring());
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kError));
}

// A uid or gid the kernel will not set (one with no mapping in a user
// namespace, for example): the session must not stay in the caller's
// keyring, so it gets one made as the caller, and one warning says why.
TEST_F(OpenSessionKeyringTest, RefusedSwitchGivesAKeyringMadeAsTheCaller) {
  thread_.calls.FailNth(Op::kSetUids, 1, EINVAL);
  const KeySerial inherited = Inherit(0, 0);

  const OpenOutcome outcome = Open();

  EXPECT_EQ(outcome.kind, Kind::kCreated);
  EXPECT_NE(outcome.created, inherited);
  EXPECT_EQ(thread_.keyrings.session_keyring(), outcome.created);
  EXPECT_EQ(thread_.keyrings.Get(outcome.created).uid, thread_.start.uid.real);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kWarning));
  EXPECT_THAT(OnlyVisibleMessage(), HasSubstr("uid 1000 gid 100"));
  EXPECT_THAT(OnlyVisibleMessage(), HasSubstr("Invalid argument"));
  EXPECT_THAT(OnlyVisibleMessage(), HasSubstr("as the caller"));
}

// Nothing can be linked in as the user: the caller's own user keyring must
// not go in instead.
TEST_F(OpenSessionKeyringTest, RefusedSwitchLinksNoUserKeyring) {
  thread_.calls.FailNth(Op::kSetUids, 1, EINVAL);

  const OpenOutcome outcome = Open(Args({"force"}));

  ASSERT_EQ(outcome.kind, Kind::kCreated);
  EXPECT_THAT(thread_.keyrings.Get(outcome.created).links, IsEmpty());
  EXPECT_EQ(CallsOf(Op::kLink), 0);
}

TEST_F(OpenSessionKeyringTest, RefusedSwitchKeepsAKeyringTheUserOwns) {
  thread_.calls.FailNth(Op::kSetUids, 1, EINVAL);
  const KeySerial inherited = Inherit(kAlice.uid, kAlice.gid);

  const OpenOutcome outcome = Open();

  EXPECT_EQ(outcome.kind, Kind::kKept);
  EXPECT_EQ(thread_.keyrings.session_keyring(), inherited);
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kWarning));
}

TEST_F(OpenSessionKeyringTest, RefusedSwitchAndRefusedJoinFailWithOneError) {
  thread_.calls.FailNth(Op::kSetUids, 1, EINVAL);
  thread_.calls.FailEvery(Op::kJoin, ENOMEM);
  Inherit(0, 0);

  const OpenOutcome outcome = Open();

  EXPECT_EQ(outcome.kind, Kind::kFailed);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kError));
}

TEST_F(OpenSessionKeyringTest, SwitchReadBackFailureLogSaysWhatWasReadBack) {
  thread_.credentials.MisapplyNth(Op::kSetUids, 1, 4242);

  const OpenOutcome outcome = Open();

  EXPECT_EQ(outcome.kind, Kind::kCreated);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kWarning));
  EXPECT_THAT(OnlyVisibleMessage(), HasSubstr("4242"));
}

// The switch fails half way and putting the gid back fails too: the thread
// is left with the target's real gid, which the log must say.
TEST_F(OpenSessionKeyringTest, FailedRestoreAfterAFailedSwitchIsLogged) {
  thread_.calls.FailNth(Op::kSetUids, 1, EAGAIN);
  thread_.calls.FailNth(Op::kSetGids, 2, EPERM);  // Switch's own restore
  thread_.calls.FailNth(Op::kSetGids, 3, EPERM);  // the destructor's retry

  const OpenOutcome outcome = Open();

  EXPECT_EQ(outcome.kind, Kind::kFailed);
  EXPECT_NE(thread_.credentials.ids(), thread_.start);
  EXPECT_THAT(thread_.log.Visible(),
              Contains(Field(&test::LogLine::message, HasSubstr("restore"))));
}

TEST_F(OpenSessionKeyringTest, QuotaFailureLogNamesTheSysctlThatRaisesIt) {
  thread_.calls.FailEvery(Op::kJoin, EDQUOT);

  Open();

  EXPECT_THAT(OnlyVisibleMessage(), HasSubstr("kernel.keys.maxkeys"));
}

TEST_F(OpenSessionKeyringTest, PersistentLinksTheUsersPersistentKeyring) {
  const OpenOutcome outcome = Open(Args({"persistent"}));

  ExpectFreshKeyringFor(outcome, kAlice);
  EXPECT_EQ(CallsOf(Op::kGetPersistent), 1);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(OpenSessionKeyringTest, LinkPreviousKeepsTheTargetsOldKeyringReachable) {
  const KeySerial previous = Inherit(kAlice.uid, kAlice.gid);

  const OpenOutcome outcome = Open(Args({"force", "link_previous"}));

  ExpectFreshKeyringFor(outcome, kAlice);
  EXPECT_TRUE(thread_.keyrings.IsLinked(previous, outcome.created));
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(OpenSessionKeyringTest, LinkPreviousHoldsAcrossTheJoinAsTheCaller) {
  Inherit(kAlice.uid, kAlice.gid);

  Open(Args({"force", "link_previous"}));

  // The thread keyring the kernel made for the hold is the caller's, and
  // the hold is gone again.
  const KeySerial thread = thread_.keyrings.thread_keyring();
  ASSERT_NE(thread, 0);
  EXPECT_EQ(thread_.keyrings.Get(thread).uid, thread_.start.uid.real);
  EXPECT_THAT(thread_.keyrings.Get(thread).links, IsEmpty());
}

TEST_F(OpenSessionKeyringTest, LinkPreviousSkipsTheUsersDefaultKeyring) {
  thread_.keyrings.SubscribeTo(thread_.keyrings.UserSessionKeyring(kAlice.uid));

  const OpenOutcome outcome = Open(Args({"force", "link_previous"}));

  ExpectFreshKeyringFor(outcome, kAlice);
  EXPECT_FALSE(thread_.keyrings.IsLinked(
      thread_.keyrings.UserSessionKeyring(kAlice.uid), outcome.created));
  EXPECT_EQ(CallsOf(Op::kUnlink), 0);
}

TEST_F(OpenSessionKeyringTest, LinkPreviousReleasesTheHoldWhenTheOpenFails) {
  Inherit(kAlice.uid, kAlice.gid);
  thread_.calls.FailEvery(Op::kJoin, ENOMEM);

  const OpenOutcome outcome = Open(Args({"force", "link_previous"}));

  EXPECT_EQ(outcome.kind, OpenOutcome::Kind::kFailed);
  EXPECT_THAT(thread_.keyrings.Get(thread_.keyrings.thread_keyring()).links,
              IsEmpty());
  ExpectIdsAsAtStart();
}

// In a user namespace an owner without a mapping is described as the
// overflow uid, 65534, which is also nobody's uid: such a keyring may be
// root's, so nobody does not keep or carry it.
TEST_F(OpenSessionKeyringTest, OverflowUidOwnerIsNeverTakenForTheTarget) {
  const Target nobody{"nobody", 65534, 65534};
  const KeySerial inherited = Inherit(65534, 65534);

  const OpenOutcome kept = Open({}, nobody);
  const OpenOutcome carried = Open(Args({"force", "link_previous"}), nobody);

  EXPECT_EQ(kept.kind, Kind::kCreated);
  EXPECT_NE(kept.created, inherited);
  EXPECT_FALSE(thread_.keyrings.IsLinked(kept.created, carried.created));
}

TEST_F(OpenSessionKeyringTest, LinkPreviousNeverLinksAnotherUsersKeyring) {
  const KeySerial previous = Inherit(0, 0);

  const OpenOutcome outcome = Open(Args({"force", "link_previous"}));

  ExpectFreshKeyringFor(outcome, kAlice);
  EXPECT_FALSE(thread_.keyrings.IsLinked(previous, outcome.created));
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// Callers that are not plain root.

class UnprivilegedCallerTest : public SessionTestBase {
 protected:
  UnprivilegedCallerTest() : SessionTestBase(SameIds(kAlice.uid, kAlice.gid)) {}
};

TEST_F(UnprivilegedCallerTest, OpeningForItselfSwitchesNothing) {
  const OpenOutcome outcome = Open();

  ExpectFreshKeyringFor(outcome, kAlice);
  EXPECT_EQ(CallsOf(Op::kSetUids) + CallsOf(Op::kSetGids), 0);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// The switch is refused before anything changes, as it could not be
// undone; the session then gets a keyring of the caller's, not the one it
// inherited.
TEST_F(UnprivilegedCallerTest, OpeningForAnotherUserGivesAKeyringAsTheCaller) {
  const KeySerial inherited = Inherit(kAlice.uid, kAlice.gid);

  const OpenOutcome outcome = Open({}, kBob);

  EXPECT_EQ(outcome.kind, Kind::kCreated);
  EXPECT_NE(outcome.created, inherited);
  EXPECT_EQ(CallsOf(Op::kSetUids) + CallsOf(Op::kSetGids), 0);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kWarning));
}

// pam_keyinit switched to the user's IDs to revoke, which an application
// that had already dropped privileges could not do.
TEST_F(UnprivilegedCallerTest, RevokeWorksWithoutPrivilege) {
  const KeySerial keyring = Inherit(0, 0);

  const Status status = RevokeSessionKeyring(thread_.services, keyring, 0);

  EXPECT_TRUE(status.ok());
  EXPECT_TRUE(thread_.keyrings.Get(keyring).revoked);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

class SetuidRootCallerTest : public SessionTestBase {
 protected:
  SetuidRootCallerTest()
      : SessionTestBase(
            ThreadIds{{kBob.uid, 0, 0}, {kBob.gid, kBob.gid, kBob.gid}}) {}
};

TEST_F(SetuidRootCallerTest, GetsTheTargetsKeyringAndComesBackExactly) {
  const OpenOutcome outcome = Open();

  ExpectFreshKeyringFor(outcome, kAlice);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// Revocation.

TEST_F(OpenSessionKeyringTest, RevokeRevokesWithoutTouchingIds) {
  const KeySerial keyring = Inherit(kAlice.uid, kAlice.gid);

  const Status status = RevokeSessionKeyring(thread_.services, keyring, 0);

  EXPECT_TRUE(status.ok());
  EXPECT_TRUE(thread_.keyrings.Get(keyring).revoked);
  EXPECT_THAT(thread_.calls.calls(), ElementsAre(Call::Revoke(keyring)));
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// A forked copy of the session closed first.
TEST_F(OpenSessionKeyringTest, RevokeOfARevokedKeyringSucceedsQuietly) {
  const KeySerial keyring = Inherit(kAlice.uid, kAlice.gid);
  thread_.keyrings.MarkRevoked(keyring);

  const Status status = RevokeSessionKeyring(thread_.services, keyring, 0);

  EXPECT_TRUE(status.ok());
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(OpenSessionKeyringTest, RevokeFailureIsReturnedAndLoggedOnce) {
  const KeySerial keyring = Inherit(kAlice.uid, kAlice.gid);
  thread_.calls.FailNext(Op::kRevoke, EACCES);

  const Status status = RevokeSessionKeyring(thread_.services, keyring, 0);

  EXPECT_EQ(status.error_number(), EACCES);
  EXPECT_FALSE(thread_.keyrings.Get(keyring).revoked);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kError));
  EXPECT_THAT(OnlyVisibleMessage(), HasSubstr(std::to_string(keyring)));
}

}  // namespace
}  // namespace sessionkeyring
