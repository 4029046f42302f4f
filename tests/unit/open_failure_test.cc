// A failure injected at each credential and kernel call of an open, in
// turn, for open_session and setcred(ESTABLISH), with and without `force`.
// Whatever fails, the hook must give its own failure verdict (which the PAM
// edge turns into PAM_SESSION_ERR or PAM_CRED_ERR), log exactly one error
// line, and leave all six of the caller's IDs as they were. A keyring that
// was already made must stay recorded in the handle so that close can
// revoke it.

#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "fakes.h"
#include "hooks.h"

namespace sessionkeyring {
namespace {

using test::Args;
using test::Call;
using test::FakeThread;
using test::FakeUserSource;
using test::FoundUser;
using test::kAlice;
using test::Op;
using test::OpeningHook;
using test::RunOpeningHook;
using ::testing::ElementsAre;

// All six IDs differ, so a restore that mixes any of them up shows.
const ThreadIds kStart{{0, 0, 7}, {3, 4, 5}};

struct FailurePoint {
  Op op;
  int nth;
  int error_number;
  bool lookup;      // only made without `force`
  bool after_join;  // the keyring exists when this call fails
  // A failed lookup is tolerated: the session gets a fresh keyring and one
  // warning instead of a failure, so as not to stay in the caller's.
  bool tolerated = false;
  // Tolerated, and the inherited keyring (here the user's own) is kept.
  bool keeps_own = false;
};

// A refused join is tried again as the caller, so a join fails the open
// only when every join is refused; the fixture arranges that.

// The calls of a successful open, in order; FailurePointsTest below checks
// that the list stays complete as the code changes.
constexpr FailurePoint kFailurePoints[] = {
    // The switch to the user's IDs fails and is undone: the session gets a
    // keyring made as the caller, with one warning.
    {Op::kGetIds, 1, EFAULT, false, false, true},
    {Op::kSetGids, 1, EPERM, false, false, true},
    {Op::kSetUids, 1, EAGAIN, false, false, true},
    {Op::kGetIds, 2, EFAULT, false, false, true},
    {Op::kResolve, 1, EACCES, true, false, true},
    {Op::kResolve, 2, ENOMEM, true, false, true, true},
    {Op::kJoin, 1, EDQUOT, false, false},
    {Op::kLink, 1, EACCES, false, true},
    {Op::kSetUids, 2, EPERM, false, true},
    {Op::kSetGids, 2, EPERM, false, true},
    {Op::kGetIds, 3, EFAULT, false, true},
    // Holding the keyring for a later revoke, back as the caller: the
    // session works without it, so the open succeeds with a warning.
    {Op::kCreateKeyring, 1, EDQUOT, false, true, true},
    {Op::kSetPermissions, 1, EPERM, false, true, true},
    {Op::kLink, 2, ENOMEM, false, true, true},
};

struct FailureCase {
  OpeningHook hook;
  bool force;
  FailurePoint point;
};

std::vector<FailureCase> AllFailureCases() {
  std::vector<FailureCase> cases;
  for (const OpeningHook hook : {OpeningHook::kOpen, OpeningHook::kEstablish}) {
    for (const bool force : {false, true}) {
      for (const FailurePoint& point : kFailurePoints) {
        if (force && point.lookup) continue;
        cases.push_back({hook, force, point});
      }
    }
  }
  return cases;
}

void PrintTo(const FailureCase& param, std::ostream* os) {
  *os << test::HookName(param.hook) << (param.force ? " with" : " without")
      << " force, " << test::OpName(param.point.op) << " #" << param.point.nth
      << " failing with " << ErrnoText(param.point.error_number);
}

std::string FailureCaseName(const ::testing::TestParamInfo<FailureCase>& info) {
  const FailureCase& param = info.param;
  return std::string(test::HookName(param.hook)) +
         (param.force ? "Force" : "NoForce") + "_" +
         std::string(test::OpName(param.point.op)) +
         std::to_string(param.point.nth);
}

Options OptionsFor(bool force) {
  return force ? Args({"force", "revoke"}) : Args({"revoke"});
}

HookResult OpenForAlice(OpeningHook hook, FakeThread& thread, bool force,
                        HandleState& state) {
  FakeUserSource users(FoundUser(kAlice));
  return RunOpeningHook(hook, thread.services, users, OptionsFor(force), state);
}

class OpenFailureTest : public ::testing::TestWithParam<FailureCase> {
 protected:
  OpenFailureTest() {
    const FailurePoint& point = GetParam().point;
    if (point.op == Op::kJoin) {
      thread_.calls.FailEvery(point.op, point.error_number);
    } else {
      thread_.calls.FailNth(point.op, point.nth, point.error_number);
    }
  }

  HookResult Run() {
    return OpenForAlice(GetParam().hook, thread_, GetParam().force, state_);
  }

  LogLevel ExpectedLevel() const {
    return GetParam().point.tolerated ? LogLevel::kWarning : LogLevel::kError;
  }

  FakeThread thread_{kStart};
  HandleState state_;
};

TEST_P(OpenFailureTest, GivesTheHooksFailureVerdictUnlessTolerated) {
  const HookResult result = Run();

  EXPECT_EQ(result.verdict,
            GetParam().point.tolerated ? Verdict::kSuccess : Verdict::kFailure);
}

TEST_P(OpenFailureTest, LeavesAllSixIdsAsTheyWere) {
  Run();

  EXPECT_EQ(thread_.credentials.ids(), kStart);
}

TEST_P(OpenFailureTest, LogsExactlyOneLine) {
  Run();

  EXPECT_THAT(thread_.log.VisibleLevels(), ElementsAre(ExpectedLevel()));
}

TEST_P(OpenFailureTest, RecordsTheKeyringOnlyIfOneWasMade) {
  Run();

  const FailurePoint& point = GetParam().point;
  if (point.after_join || (point.tolerated && !point.keeps_own)) {
    EXPECT_NE(state_.keyring, 0);
    EXPECT_EQ(state_.keyring, thread_.keyrings.session_keyring());
  } else {
    EXPECT_EQ(state_.keyring, 0);
  }
}

TEST_P(OpenFailureTest, CloseRevokesWhatWasMadeAndNothingElse) {
  Run();
  const KeySerial recorded = state_.keyring;

  const HookResult closed = CloseSession(thread_.services, Options{}, state_);

  EXPECT_EQ(closed.verdict, Verdict::kSuccess);
  if (recorded != 0) {
    EXPECT_TRUE(thread_.keyrings.Get(recorded).revoked);
  } else {
    EXPECT_EQ(thread_.calls.Count(Op::kRevoke), 0);
  }
  EXPECT_THAT(thread_.log.VisibleLevels(), ElementsAre(ExpectedLevel()));
}

INSTANTIATE_TEST_SUITE_P(EachCall, OpenFailureTest,
                         ::testing::ValuesIn(AllFailureCases()),
                         FailureCaseName);

// Numbers each call of a trace the way FailNth counts: (op, nth of op).
std::vector<std::pair<Op, int>> NumberCalls(const std::vector<Call>& calls) {
  std::vector<std::pair<Op, int>> numbered;
  for (const Call& call : calls) {
    int nth = 1;
    for (const auto& earlier : numbered) {
      if (earlier.first == call.op) ++nth;
    }
    numbered.emplace_back(call.op, nth);
  }
  return numbered;
}

class FailurePointsTest : public ::testing::TestWithParam<bool> {};

TEST_P(FailurePointsTest, CoverEveryCallOfASuccessfulOpen) {
  const bool force = GetParam();
  FakeThread thread(kStart);
  HandleState state;
  ASSERT_EQ(OpenForAlice(OpeningHook::kOpen, thread, force, state).verdict,
            Verdict::kSuccess);

  std::vector<std::pair<Op, int>> listed;
  for (const FailurePoint& point : kFailurePoints) {
    if (!(force && point.lookup)) listed.emplace_back(point.op, point.nth);
  }

  EXPECT_EQ(NumberCalls(thread.calls.calls()), listed);
}

std::string ForceName(const ::testing::TestParamInfo<bool>& info) {
  return info.param ? "Force" : "NoForce";
}

INSTANTIATE_TEST_SUITE_P(ForceAndNot, FailurePointsTest, ::testing::Bool(),
                         ForceName);

}  // namespace
}  // namespace sessionkeyring
