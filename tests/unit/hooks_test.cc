// The PAM hooks as the core decides them, against the fake kernel: which
// verdict each returns and how the per-handle state carries a keyring from
// open to close.

#include "hooks.h"

#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "fakes.h"

namespace sessionkeyring {
namespace {

using test::Args;
using test::FakeThread;
using test::FakeUserSource;
using test::FoundUser;
using test::HookName;
using test::HostError;
using test::kAlice;
using test::kBob;
using test::kSelf;
using test::Op;
using test::OpeningHook;
using test::RootIds;
using test::RunOpeningHook;
using test::UnknownUser;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Any code the host's user lookup may return; only that it comes back
// unchanged matters. (This is PAM_CONV_ERR's value.)
constexpr int kHostCode = 19;

class HooksTest : public ::testing::Test {
 protected:
  HookResult Open(const Options& options = {}) {
    return OpenSession(thread_.services, users_, options, state_, kSelf);
  }
  HookResult Establish(const Options& options = {}) {
    return EstablishCredentials(thread_.services, users_, options, state_,
                                kSelf);
  }
  HookResult Close(const Options& options = {}) {
    return CloseSession(thread_.services, options, state_);
  }
  HookResult Delete(const Options& options = {}) {
    return DeleteCredentials(thread_.services, options, state_);
  }

  bool IsRevoked(KeySerial keyring) const {
    return thread_.keyrings.Get(keyring).revoked;
  }
  int CallsOf(Op op) const { return thread_.calls.Count(op); }
  size_t CallCount() const { return thread_.calls.calls().size(); }

  void ExpectIdsAsAtStart() const {
    EXPECT_EQ(thread_.credentials.ids(), thread_.start);
  }
  std::vector<LogLevel> VisibleLevels() const {
    return thread_.log.VisibleLevels();
  }

  FakeThread thread_{RootIds()};
  FakeUserSource users_{FoundUser(kAlice)};
  HandleState state_;
};

// What open_session and setcred(ESTABLISH) share.

class OpeningHookTest : public HooksTest,
                        public ::testing::WithParamInterface<OpeningHook> {
 protected:
  HookResult Run(const Options& options = {}) {
    return RunOpeningHook(GetParam(), thread_.services, users_, options,
                          state_);
  }
};

TEST_P(OpeningHookTest, MakesAKeyringAndRecordsItInTheHandle) {
  const HookResult result = Run();

  EXPECT_EQ(result.verdict, Verdict::kSuccess);
  EXPECT_NE(state_.keyring, 0);
  EXPECT_EQ(state_.keyring, thread_.keyrings.session_keyring());
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_P(OpeningHookTest, PassesTheHostsUserLookupErrorThrough) {
  users_.set_answer(HostError(kHostCode));

  const HookResult result = Run();

  EXPECT_EQ(result.verdict, Verdict::kHostError);
  EXPECT_EQ(result.host_code, kHostCode);
  EXPECT_EQ(CallCount(), 0u);
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_P(OpeningHookTest, UnknownUserGivesOneNoticeNamingTheUser) {
  users_.set_answer(UnknownUser("mallory"));

  const HookResult result = Run();

  EXPECT_EQ(result.verdict, Verdict::kUserUnknown);
  EXPECT_EQ(CallCount(), 0u);
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kNotice));
  EXPECT_THAT(thread_.log.OnlyVisibleMessage(), HasSubstr("\"mallory\""));
}

TEST_P(OpeningHookTest, UnknownUserNameIsEscapedInTheNotice) {
  users_.set_answer(UnknownUser("evil\nname"));

  Run();

  EXPECT_THAT(thread_.log.OnlyVisibleMessage(), HasSubstr("\"evil\\x0aname\""));
}

TEST_P(OpeningHookTest, FailedUserLookupNamesTheErrorInsteadOfNoSuchUser) {
  UserLookup answer = UnknownUser("mallory");
  answer.error_number = EIO;
  users_.set_answer(answer);

  const HookResult result = Run();

  EXPECT_EQ(result.verdict, Verdict::kUserUnknown);
  EXPECT_THAT(thread_.log.OnlyVisibleMessage(),
              HasSubstr("\"mallory\": Input/output error"));
}

TEST_P(OpeningHookTest, FailureToMakeTheKeyringIsTheHooksOwnFailure) {
  thread_.calls.FailEvery(Op::kJoin, EDQUOT);

  const HookResult result = Run();

  EXPECT_EQ(result.verdict, Verdict::kFailure);
  EXPECT_EQ(state_.keyring, 0);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kError));
}

TEST_P(OpeningHookTest, MissingKeyringSupportIsSuccess) {
  thread_.calls.FailNext(Op::kResolve, ENOSYS);

  const HookResult result = Run();

  EXPECT_EQ(result.verdict, Verdict::kSuccess);
  EXPECT_EQ(state_.keyring, 0);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kNotice));
}

TEST_P(OpeningHookTest, KeptKeyringIsSuccessWithNothingToRevoke) {
  thread_.keyrings.SubscribeTo(
      thread_.keyrings.AddKeyring(kAlice.uid, kAlice.gid, "_ses"));

  const HookResult result = Run();

  EXPECT_EQ(result.verdict, Verdict::kSuccess);
  EXPECT_EQ(state_.keyring, 0);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_P(OpeningHookTest, SecondCallOnTheHandleSucceedsWithoutASecondKeyring) {
  Run();

  const HookResult result = Run();

  EXPECT_EQ(result.verdict, Verdict::kSuccess);
  EXPECT_EQ(CallsOf(Op::kJoin), 1);
  EXPECT_EQ(users_.calls(), 1);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// The thread is already inside the keyring when the link fails, so the
// handle must remember it for the revoke.
TEST_P(OpeningHookTest, LinkFailureStillRecordsTheKeyringForRevocation) {
  thread_.calls.FailNext(Op::kLink, EACCES);

  const HookResult result = Run(Args({"revoke"}));
  const KeySerial recorded = state_.keyring;
  Close();

  EXPECT_EQ(result.verdict, Verdict::kFailure);
  ASSERT_NE(recorded, 0);
  EXPECT_TRUE(IsRevoked(recorded));
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kError));
}

std::string HookTestName(const ::testing::TestParamInfo<OpeningHook>& info) {
  return std::string(HookName(info.param));
}

INSTANTIATE_TEST_SUITE_P(OpenAndEstablish, OpeningHookTest,
                         ::testing::Values(OpeningHook::kOpen,
                                           OpeningHook::kEstablish),
                         HookTestName);

TEST_F(HooksTest, OpenCountsAnOpen) {
  Open();

  EXPECT_EQ(state_.opens, 1);
}

TEST_F(HooksTest, EstablishDoesNotCountAnOpen) {
  Establish();

  EXPECT_EQ(state_.opens, 0);
}

// The module listed twice in a session stack.
TEST_F(HooksTest, KeyringOfAModuleListedTwiceIsRevokedOnlyAtTheLastClose) {
  Open(Args({"revoke"}));
  Open(Args({"revoke"}));
  const KeySerial keyring = state_.keyring;

  const HookResult first = Close();
  const bool revoked_after_first = IsRevoked(keyring);
  const HookResult second = Close();

  EXPECT_EQ(first.verdict, Verdict::kSuccess);
  EXPECT_FALSE(revoked_after_first);
  EXPECT_EQ(second.verdict, Verdict::kSuccess);
  EXPECT_TRUE(IsRevoked(keyring));
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// gdm with a Kerberos KEYRING:session cache calls setcred before open.
TEST_F(HooksTest, EstablishThenOpenMakesOneKeyringRevokedAtClose) {
  Establish(Args({"revoke"}));
  const KeySerial keyring = state_.keyring;

  const HookResult opened = Open(Args({"revoke"}));
  const HookResult closed = Close();

  EXPECT_EQ(opened.verdict, Verdict::kSuccess);
  EXPECT_EQ(closed.verdict, Verdict::kSuccess);
  EXPECT_EQ(CallsOf(Op::kJoin), 1);
  EXPECT_TRUE(IsRevoked(keyring));
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(HooksTest, DeleteBeforeCloseRevokesAndCloseThenDoesNothing) {
  Open(Args({"revoke"}));
  const KeySerial keyring = state_.keyring;

  const HookResult deleted = Delete();
  const size_t calls_after_delete = CallCount();
  const HookResult closed = Close();

  EXPECT_EQ(deleted.verdict, Verdict::kSuccess);
  EXPECT_TRUE(IsRevoked(keyring));
  EXPECT_EQ(closed.verdict, Verdict::kSuccess);
  EXPECT_EQ(CallCount(), calls_after_delete);
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(HooksTest, DeleteAfterCloseIsIgnored) {
  Open(Args({"revoke"}));
  Close();
  const size_t calls_after_close = CallCount();

  const HookResult result = Delete();

  EXPECT_EQ(result.verdict, Verdict::kIgnore);
  EXPECT_EQ(CallCount(), calls_after_close);
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(HooksTest, DeleteWithoutRevokeIsIgnoredAndRevokesNothing) {
  Open();
  const KeySerial keyring = state_.keyring;

  const HookResult result = Delete();

  EXPECT_EQ(result.verdict, Verdict::kIgnore);
  EXPECT_FALSE(IsRevoked(keyring));
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(HooksTest, DeleteOnAFreshHandleIsIgnored) {
  const HookResult result = Delete(Args({"revoke"}));

  EXPECT_EQ(result.verdict, Verdict::kIgnore);
  EXPECT_EQ(CallCount(), 0u);
}

TEST_F(HooksTest, CloseWithoutOpenSucceedsAndDoesNothing) {
  const HookResult result = Close(Args({"revoke"}));

  EXPECT_EQ(result.verdict, Verdict::kSuccess);
  EXPECT_EQ(CallCount(), 0u);
  EXPECT_EQ(state_.opens, 0);
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// As in pam_keyinit, `revoke` seen by any hook of the handle applies.
TEST_F(HooksTest, RevokeOnTheOpenLineAppliesAtAPlainClose) {
  Open(Args({"revoke"}));
  const KeySerial keyring = state_.keyring;

  Close();

  EXPECT_TRUE(IsRevoked(keyring));
}

TEST_F(HooksTest, RevokeOnAnAuthLineAppliesAtClose) {
  Establish(Args({"revoke"}));
  Open();
  const KeySerial keyring = state_.keyring;

  Close();

  EXPECT_TRUE(IsRevoked(keyring));
}

TEST_F(HooksTest, RevokeOnTheCloseLineApplies) {
  Open();
  const KeySerial keyring = state_.keyring;

  Close(Args({"revoke"}));

  EXPECT_TRUE(IsRevoked(keyring));
}

// The end of the transaction revokes instead, so that modules after this
// one can still use the keyring in their close hooks.
TEST_F(HooksTest, RevokeAtEndLeavesTheKeyringAtCloseAndRemembersIt) {
  Open(Args({"revoke=end"}));
  const KeySerial keyring = state_.keyring;

  const HookResult result = Close();

  EXPECT_EQ(result.verdict, Verdict::kSuccess);
  EXPECT_FALSE(IsRevoked(keyring));
  EXPECT_EQ(state_.keyring, keyring);
  EXPECT_EQ(state_.revoke, RevokeMode::kAtEnd);
}

TEST_F(HooksTest, RevokeAtEndLeavesTheKeyringAtDelete) {
  Open(Args({"revoke=end"}));
  const KeySerial keyring = state_.keyring;

  const HookResult result = Delete();

  EXPECT_EQ(result.verdict, Verdict::kIgnore);
  EXPECT_FALSE(IsRevoked(keyring));
}

TEST_F(HooksTest, CloseWithoutRevokeLeavesTheKeyringAndForgetsIt) {
  Open();
  const KeySerial keyring = state_.keyring;

  const HookResult result = Close();

  EXPECT_EQ(result.verdict, Verdict::kSuccess);
  EXPECT_FALSE(IsRevoked(keyring));
  EXPECT_EQ(state_.keyring, 0);
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// pam_keyinit kept the record, so every later open in the process returned
// early and shared the first keyring.
TEST_F(HooksTest, OpenAfterAnUnrevokedCloseStartsANewSession) {
  Open(Args({"force"}));
  const KeySerial first = state_.keyring;
  Close();

  const HookResult result = Open(Args({"force"}));

  EXPECT_EQ(result.verdict, Verdict::kSuccess);
  EXPECT_NE(state_.keyring, 0);
  EXPECT_NE(state_.keyring, first);
  ExpectIdsAsAtStart();
}

TEST_F(HooksTest, OpenForAnotherUserAfterAnUnrevokedCloseGetsItsOwnKeyring) {
  Open();
  Close();
  users_.set_answer(FoundUser(kBob));

  const HookResult result = Open();

  EXPECT_EQ(result.verdict, Verdict::kSuccess);
  ASSERT_NE(state_.keyring, 0);
  EXPECT_EQ(thread_.keyrings.Get(state_.keyring).uid, kBob.uid);
  ExpectIdsAsAtStart();
}

// pam_keyinit fails this second open: the thread's keyring is revoked.
TEST_F(HooksTest, SessionAfterARevokedOneInTheSameThreadOpens) {
  Open(Args({"revoke"}));
  const KeySerial first = state_.keyring;
  Close();

  const HookResult result = Open(Args({"revoke"}));

  EXPECT_EQ(result.verdict, Verdict::kSuccess);
  EXPECT_NE(state_.keyring, first);
  EXPECT_FALSE(IsRevoked(state_.keyring));
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(HooksTest, RevokeFailureAtCloseIsLoggedButCloseSucceeds) {
  Open(Args({"revoke"}));
  thread_.calls.FailNext(Op::kRevoke, ENOMEM);

  const HookResult result = Close();

  EXPECT_EQ(result.verdict, Verdict::kSuccess);
  EXPECT_EQ(state_.keyring, 0);
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kError));
}

TEST_F(HooksTest, RevokeFailureAtDeleteFails) {
  Open(Args({"revoke"}));
  thread_.calls.FailNext(Op::kRevoke, ENOMEM);

  const HookResult result = Delete();

  EXPECT_EQ(result.verdict, Verdict::kFailure);
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kError));
}

TEST_F(HooksTest, AlreadyRevokedKeyringAtCloseIsSuccessWithoutAnError) {
  Open(Args({"revoke"}));
  thread_.calls.FailNext(Op::kRevoke, EKEYREVOKED);

  const HookResult result = Close();

  EXPECT_EQ(result.verdict, Verdict::kSuccess);
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// After fork() both processes hold a copy of the handle; whichever closes
// second finds the keyring already revoked.
TEST_F(HooksTest, ForkedCopiesOfAHandleBothCloseCleanly) {
  Open(Args({"revoke"}));
  HandleState child = state_;
  const KeySerial keyring = state_.keyring;

  const HookResult parent_closed = Close();
  const HookResult child_closed =
      CloseSession(thread_.services, Options{}, child);

  EXPECT_EQ(parent_closed.verdict, Verdict::kSuccess);
  EXPECT_EQ(child_closed.verdict, Verdict::kSuccess);
  EXPECT_EQ(
      std::count(thread_.calls.calls().begin(), thread_.calls.calls().end(),
                 test::Call::Revoke(keyring)),
      2);
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// Two handles in one thread, for two users: pam_keyinit gave the second
// user the first one's keyring and revoked it only when both had closed.
class TwoHandlesTest : public HooksTest {
 protected:
  HookResult OpenForBob(const Options& options = {}) {
    return OpenSession(thread_.services, bob_users_, options, bob_state_,
                       kSelf);
  }
  HookResult CloseForBob(const Options& options = {}) {
    return CloseSession(thread_.services, options, bob_state_);
  }

  FakeUserSource bob_users_{FoundUser(kBob)};
  HandleState bob_state_;
};

TEST_F(TwoHandlesTest, SecondHandleGetsAKeyringOfItsOwnUser) {
  Open(Args({"revoke"}));

  const HookResult result = OpenForBob(Args({"revoke"}));

  EXPECT_EQ(result.verdict, Verdict::kSuccess);
  ASSERT_NE(bob_state_.keyring, 0);
  EXPECT_NE(bob_state_.keyring, state_.keyring);
  EXPECT_EQ(thread_.keyrings.Get(state_.keyring).uid, kAlice.uid);
  EXPECT_EQ(thread_.keyrings.Get(bob_state_.keyring).uid, kBob.uid);
  ExpectIdsAsAtStart();
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(TwoHandlesTest, ClosingOneHandleRevokesOnlyItsOwnKeyring) {
  Open(Args({"revoke"}));
  const KeySerial alices = state_.keyring;
  OpenForBob(Args({"revoke"}));
  const KeySerial bobs = bob_state_.keyring;

  Close();

  EXPECT_TRUE(IsRevoked(alices));
  EXPECT_FALSE(IsRevoked(bobs));
  EXPECT_EQ(bob_state_.keyring, bobs);
  EXPECT_EQ(bob_state_.opens, 1);
}

TEST_F(TwoHandlesTest, EachHandleRevokesItsOwnKeyringAtItsClose) {
  Open(Args({"revoke"}));
  const KeySerial alices = state_.keyring;
  OpenForBob(Args({"revoke"}));
  const KeySerial bobs = bob_state_.keyring;

  CloseForBob();
  const bool alices_revoked_by_bobs_close = IsRevoked(alices);
  Close();

  EXPECT_FALSE(alices_revoked_by_bobs_close);
  EXPECT_TRUE(IsRevoked(bobs));
  EXPECT_TRUE(IsRevoked(alices));
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

// Each handle's keyring is held in the thread keyring until its close, so
// that the close can revoke it after another handle on the same thread
// replaced it as the thread's session keyring.
TEST_F(TwoHandlesTest, EachOpenHoldsItsOwnKeyringInTheThreadKeyring) {
  Open(Args({"force", "revoke"}));
  OpenForBob(Args({"force", "revoke"}));

  const KeySerial thread = thread_.keyrings.thread_keyring();
  ASSERT_NE(thread, 0);
  EXPECT_THAT(thread_.keyrings.Get(thread).links,
              ElementsAre(state_.holder, bob_state_.holder));
  EXPECT_TRUE(thread_.keyrings.IsLinked(state_.keyring, state_.holder));
  EXPECT_TRUE(thread_.keyrings.IsLinked(bob_state_.keyring, bob_state_.holder));
  // Made back as the caller, charged to root rather than to the user.
  EXPECT_EQ(thread_.keyrings.Get(state_.holder).uid, 0u);
  EXPECT_EQ(thread_.keyrings.Get(state_.holder).description,
            "pam_sessionkeyring:" + std::to_string(state_.keyring));
}

TEST_F(TwoHandlesTest, ClosingOneHandleReleasesOnlyItsOwnHolder) {
  Open(Args({"force", "revoke"}));
  const KeySerial alices_holder = state_.holder;
  OpenForBob(Args({"force", "revoke"}));

  Close();

  EXPECT_THAT(thread_.keyrings.Get(thread_.keyrings.thread_keyring()).links,
              ElementsAre(bob_state_.holder));
  EXPECT_EQ(state_.holder, 0);
  EXPECT_NE(alices_holder, 0);
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(HooksTest, NothingIsHeldWhenTheKeyringIsNotToBeRevoked) {
  Open(Args({"force"}));

  EXPECT_NE(state_.keyring, 0);
  EXPECT_EQ(state_.holder, 0);
  EXPECT_EQ(CallsOf(Op::kCreateKeyring), 0);
}

TEST_F(HooksTest, HandleEndedWithoutACloseReleasesItsHolder) {
  Open(Args({"revoke"}));
  ASSERT_NE(state_.holder, 0);

  EndTransaction(thread_.services, state_, kSelf, /*silent=*/false);

  EXPECT_THAT(thread_.keyrings.Get(thread_.keyrings.thread_keyring()).links,
              IsEmpty());
  EXPECT_EQ(state_.holder, 0);
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(HooksTest, RevokeAtEndRevokesAndReleasesTheHolder) {
  Open(Args({"revoke=end"}));
  const KeySerial keyring = state_.keyring;
  Close();

  EndTransaction(thread_.services, state_, kSelf, /*silent=*/false);

  EXPECT_TRUE(IsRevoked(keyring));
  EXPECT_THAT(thread_.keyrings.Get(thread_.keyrings.thread_keyring()).links,
              IsEmpty());
}

TEST_F(HooksTest, HolderThatCannotBeReleasedAfterARevokeIsOneWarning) {
  Open(Args({"revoke"}));
  thread_.calls.FailNext(Op::kUnlink, EACCES);

  const HookResult result = Close();

  EXPECT_EQ(result.verdict, Verdict::kSuccess);
  EXPECT_THAT(thread_.log.OnlyVisibleMessage(), HasSubstr("holder keyring"));
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kWarning));
}

TEST_F(HooksTest, FailedRevokeAndReleaseAreOneErrorLine) {
  Open(Args({"revoke"}));
  thread_.calls.FailNext(Op::kRevoke, EPERM);
  thread_.calls.FailNext(Op::kUnlink, EPERM);

  Close();

  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kError));
}

// Every link refused: the open fails on the user keyring's link, and the
// holder's link, which fails too, adds nothing to that one error line.
TEST_F(HooksTest, OpenWithEveryLinkRefusedLogsOneLine) {
  thread_.calls.FailEvery(Op::kLink, EACCES);

  const HookResult result = Open(Args({"force", "revoke"}));

  EXPECT_EQ(result.verdict, Verdict::kFailure);
  EXPECT_THAT(VisibleLevels(), ElementsAre(LogLevel::kError));
  EXPECT_NE(state_.keyring, 0);
}

// On another thread than the opener's the keyring is not possessed (the
// kernel says EACCES); the holder, which the caller owns, is linked in for
// the revoke, and revoked itself afterwards so that it pins nothing.
TEST_F(HooksTest, CloseOnAnotherThreadRevokesThroughTheHolder) {
  Open(Args({"revoke"}));
  const KeySerial keyring = state_.keyring;
  const KeySerial holder = state_.holder;
  thread_.calls.FailNext(Op::kRevoke, EACCES);
  // Not in this thread's thread keyring.
  thread_.calls.FailEvery(Op::kUnlink, ENOENT);

  const HookResult result = Close();

  EXPECT_EQ(result.verdict, Verdict::kSuccess);
  EXPECT_TRUE(IsRevoked(keyring));
  EXPECT_TRUE(IsRevoked(holder));
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(HooksTest, HolderGivesItsOwnerEveryPermission) {
  Open(Args({"revoke"}));

  EXPECT_EQ(thread_.keyrings.Get(state_.holder).permissions, 0x3f3f0000u);
}

TEST_F(HooksTest, NoHolderWhenTheCallerOpensItsOwnSession) {
  FakeThread self(test::SameIds(kAlice.uid, kAlice.gid));
  HandleState state;

  OpenSession(self.services, users_, Args({"force", "revoke"}), state, kSelf);

  EXPECT_NE(state.keyring, 0);
  EXPECT_EQ(state.holder, 0);
  EXPECT_EQ(self.calls.Count(Op::kCreateKeyring), 0);
}

// The module listed twice, `revoke` only on the second line.
TEST_F(HooksTest, RevokeFirstSeenOnASecondLineStillHolds) {
  Open(Args({"force"}));
  ASSERT_EQ(state_.holder, 0);

  Open(Args({"revoke"}));

  EXPECT_NE(state_.holder, 0);
}

TEST_F(HooksTest, ForkedChildEndingItsCopyLeavesTheHolderAlone) {
  Open(Args({"revoke=end"}));
  HandleState child = state_;
  const size_t before = CallCount();

  EndTransaction(thread_.services, child, kSelf + 1, /*silent=*/true);

  EXPECT_EQ(CallCount(), before);
  EXPECT_FALSE(IsRevoked(state_.holder));
}

// With `revoke=end`, an open on the handle after a close starts a new
// session: it revokes the keyring waiting for the end, and makes its own
// instead of going on in whatever keyring the thread is in.
TEST_F(HooksTest, OpenAfterACloseWithRevokeAtEndStartsANewSession) {
  Open(Args({"force", "revoke=end"}));
  const KeySerial first = state_.keyring;
  Close(Args({"force", "revoke=end"}));
  thread_.keyrings.SubscribeTo(
      thread_.keyrings.AddKeyring(kBob.uid, kBob.gid, "_ses"));

  Open(Args({"force", "revoke=end"}));

  EXPECT_TRUE(IsRevoked(first));
  EXPECT_NE(state_.keyring, first);
  EXPECT_EQ(thread_.keyrings.session_keyring(), state_.keyring);
  EXPECT_EQ(thread_.keyrings.Get(state_.keyring).uid, kAlice.uid);
  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

TEST_F(HooksTest, HolderMissingFromThisThreadIsNotAFailure) {
  Open(Args({"revoke"}));
  thread_.calls.FailNext(Op::kUnlink, ENOKEY);

  Close();

  EXPECT_THAT(VisibleLevels(), IsEmpty());
}

}  // namespace
}  // namespace sessionkeyring
