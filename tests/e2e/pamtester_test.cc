// Scenarios driven through pamtester and real libpam, each run against both
// modules. The probe (pam_exec after the module) shows the keyring the
// session's processes get. Each test states what each module must do; a
// comment above it says whether they agree and, if not, which difference
// listed in DESIGN.md allows it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <syslog.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "caller_keyring.h"
#include "environment.h"
#include "keyring_holder.h"
#include "module_test.h"

namespace sessionkeyring::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// The rows of the comparison table.
constexpr std::string_view kForceFromService =
    "a. force revoke; caller on a service keyring";
constexpr std::string_view kOwnUserSession =
    "b. no options; caller on the user's own _uid_ses";
constexpr std::string_view kRootUserSession =
    "c. no options; caller on root's _uid_ses.0";
constexpr std::string_view kServiceKeyring =
    "d. no options; caller on a service keyring (root's)";
constexpr std::string_view kOtherUsersKeyring =
    "d2. no options; caller on a keyring owned by another user";
constexpr std::string_view kUsersKeyring =
    "e. no options; caller on a keyring owned by the user";
constexpr std::string_view kUnknownUser = "f. unknown user";
constexpr std::string_view kUnknownOption = "g. unknown option `bogus`";
constexpr std::string_view kTwoSessions =
    "h. revoke without force; two sessions on one handle";
constexpr std::string_view kTwoSessionsUnrevoked =
    "h2. force without revoke; two sessions on one handle";
constexpr std::string_view kEstablish =
    "i1. auth line, force revoke; setcred(ESTABLISH), then open";
constexpr std::string_view kDelete =
    "i2. auth line, force revoke; setcred(ESTABLISH), setcred(DELETE), "
    "then open";
constexpr std::string_view kEstablishThenOpen =
    "i3. auth and session lines, force revoke; setcred(ESTABLISH), open, "
    "close";
constexpr std::string_view kDebug = "j1. force revoke debug";
constexpr std::string_view kQuiet = "j2. force revoke, no debug";
constexpr std::string_view kListedTwice = "k. listed twice, force revoke";
constexpr std::string_view kRootTarget =
    "l. no options; target root; caller on a service keyring";
constexpr std::string_view kCloseWithoutOpen = "m. close without open";
constexpr std::string_view kClientIds =
    "n. force revoke; the client's IDs after close";

// The probe's view of a client running as root throughout.
constexpr char kRootIds[] = "uid 0/0/0 gid 0/0/0";

// What pamtester prints for PAM_USER_UNKNOWN.
constexpr char kUserUnknownText[] =
    "User not known to the underlying authentication module";

// Whether `number` appears in `text` as a whole number.
bool MentionsNumber(std::string_view text, int32_t number) {
  const std::string digits = std::to_string(number);
  for (size_t at = text.find(digits); at != std::string_view::npos;
       at = text.find(digits, at + 1)) {
    const size_t end = at + digits.size();
    const bool starts =
        at == 0 || !std::isdigit(static_cast<unsigned char>(text[at - 1]));
    const bool ends = end == text.size() ||
                      !std::isdigit(static_cast<unsigned char>(text[end]));
    if (starts && ends) return true;
  }
  return false;
}

class PamtesterTest : public ModuleTest {
 protected:
  // A session for a user that is not in passwd.
  SessionReport UnknownUserSession() {
    return Pamtester(ModuleLine("session required", "force revoke"),
                     TestUser{"skr-nobody", 0, 0}, {"open_session"},
                     CallerKeyring::Service());
  }

  // The module on an auth line only, for setcred; the probe runs at the
  // open_session that follows, in a session stack without the module.
  SessionReport Credentials(const std::vector<std::string>& operations) {
    return Pamtester(ModuleLine("auth required", "force revoke") + ProbeLine(),
                     Alice(), operations, CallerKeyring::Service());
  }
};

// Agree: with `force` both replace whatever keyring the caller had.
TEST_P(PamtesterTest, ForceGivesTheSessionAFreshKeyringOwnedByTheUser) {
  const SessionReport report =
      OpenAndClose("force revoke", CallerKeyring::Service());

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsFreshKeyringOf(report, report.At(kOpen), Alice()));
  Record(kForceFromService, report.Summary());
}

// Agree.
TEST_P(PamtesterTest, RevokeRevokesTheSessionKeyringAtClose) {
  const SessionReport report =
      OpenAndClose("force revoke", CallerKeyring::Service());

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsRevoked(report.At(kClose)));
  Record(kForceFromService, report.Summary());
}

// Agree: the user's own user-session keyring counts as no session.
TEST_P(PamtesterTest, WithoutForceTheUsersOwnUserSessionKeyringIsReplaced) {
  const SessionReport report =
      OpenAndClose("", CallerKeyring::UserSessionOf(Alice()));

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsFreshKeyringOf(report, report.At(kOpen), Alice()));
  Record(kOwnUserSession, report.Summary());
}

// Differs (ownership rule): pam_keyinit leaves the user's session in root's
// user-session keyring, where it possesses root's keys (reference E3).
TEST_P(PamtesterTest,
       WithoutForceRootsUserSessionKeyringIsKeptOnlyByTheReference) {
  const SessionReport report =
      OpenAndClose("", CallerKeyring::UserSessionOf(Root()));

  EXPECT_EQ(report.run.exit_code, 0);
  ExpectOwnershipRule(report, report.At(kOpen));
  Record(kRootUserSession, report.Summary(), kOwnershipRule);
}

// Differs (ownership rule): a user started by a service gets the service's
// keyring from pam_keyinit.
TEST_P(PamtesterTest, WithoutForceAServiceKeyringIsKeptOnlyByTheReference) {
  const SessionReport report = OpenAndClose("", CallerKeyring::Service());

  EXPECT_EQ(report.run.exit_code, 0);
  ExpectOwnershipRule(report, report.At(kOpen));
  Record(kServiceKeyring, report.Summary(), kOwnershipRule);
}

// Differs (ownership rule): with pam_keyinit, one user's session inherits
// another user's keyring (as cron jobs of different users share one).
TEST_P(PamtesterTest, WithoutForceAnotherUsersKeyringIsKeptOnlyByTheReference) {
  const SessionReport report =
      OpenAndClose("", CallerKeyring::AnonymousOwnedBy(Bob()));

  EXPECT_EQ(report.run.exit_code, 0);
  ExpectOwnershipRule(report, report.At(kOpen));
  Record(kOtherUsersKeyring, report.Summary(), kOwnershipRule);
}

// Agree: a keyring the user owns is the user's to keep.
TEST_P(PamtesterTest, WithoutForceAKeyringOwnedByTheUserIsKept) {
  const SessionReport report =
      OpenAndClose("", CallerKeyring::AnonymousOwnedBy(Alice()));

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsCallersKeyring(report, report.At(kOpen)));
  Record(kUsersKeyring, report.Summary());
}

// Agree.
TEST_P(PamtesterTest, UnknownUserFailsTheSessionWithUserUnknown) {
  const SessionReport report = UnknownUserSession();

  EXPECT_EQ(report.run.exit_code, 1);
  EXPECT_THAT(report.run.err, HasSubstr(kUserUnknownText));
  Record(kUnknownUser, report.Summary());
}

// Agree: both log one notice with the name.
TEST_P(PamtesterTest, UnknownUserIsLoggedOnceAsANoticeNamingTheUser) {
  const SessionReport report = UnknownUserSession();

  ASSERT_THAT(report.module_log, SizeIs(1));
  EXPECT_EQ(report.module_log[0].severity, LOG_NOTICE);
  EXPECT_THAT(report.module_log[0].text, HasSubstr("\"skr-nobody\""));
  Record(kUnknownUser, report.Summary());
}

// Differs (unknown arguments): pam_keyinit ignores `bogus` silently, this
// module warns once per hook that sees it; both go on.
TEST_P(PamtesterTest, UnknownOptionIsWarnedAboutOnlyByThisModule) {
  const SessionReport report = Pamtester(
      ModuleLine("session required", "force revoke bogus") + ProbeLine(),
      Alice(), {"open_session"}, CallerKeyring::Service());

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsFreshKeyringOf(report, report.At(kOpen), Alice()));
  if (IsReference()) {
    EXPECT_THAT(report.module_log, IsEmpty());
  } else {
    ASSERT_THAT(report.module_log, SizeIs(1));
    EXPECT_EQ(report.module_log[0].severity, LOG_WARNING);
    EXPECT_THAT(report.module_log[0].text, HasSubstr("bogus"));
  }
  Record(kUnknownOption, report.Summary(), kUnknownArgumentsWarned);
}

// Differs (revoked keyring): after the first close the process is still in
// the revoked keyring. pam_keyinit's lookup of it fails, which fails the
// second open (reference E28); this module treats it as no keyring.
TEST_P(PamtesterTest,
       RevokeWithoutForceLetsASecondSessionOpenOnlyInThisModule) {
  const SessionReport report = Pamtester(
      ModuleLine("session required", "revoke") + ProbeLine(), Alice(),
      {"open_session", "close_session", "open_session", "close_session"},
      CallerKeyring::UserSessionOf(Alice()));

  ASSERT_TRUE(IsFreshKeyringOf(report, report.At(kOpen, 0), Alice()));
  ASSERT_TRUE(IsRevoked(report.At(kClose, 0)));
  if (IsReference()) {
    EXPECT_EQ(report.run.exit_code, 1);
    EXPECT_THAT(report.run.err, HasSubstr(kSessionErrorText));
  } else {
    EXPECT_EQ(report.run.exit_code, 0);
    const ProbeSnapshot second = report.At(kOpen, 1);
    EXPECT_TRUE(IsFreshKeyringOf(report, second, Alice()));
    EXPECT_FALSE(IsSameKeyring(second, report.At(kOpen, 0)));
    EXPECT_TRUE(IsRevoked(report.At(kClose, 1)));
  }
  Record(kTwoSessions, report.Summary(), kRevokedCountsAsNone);
}

// Differs (per-handle state): without `revoke`, pam_keyinit never forgets
// the keyring it made, so a later session in the process gets the first
// one's keyring (reference E17); this module starts each session afresh.
TEST_P(PamtesterTest, ForceWithoutRevokeGivesASecondSessionItsOwnKeyring) {
  const SessionReport report = Pamtester(
      ModuleLine("session required", "force") + ProbeLine(), Alice(),
      {"open_session", "close_session", "open_session", "close_session"},
      CallerKeyring::Service());

  EXPECT_EQ(report.run.exit_code, 0);
  const ProbeSnapshot first = report.At(kOpen, 0);
  const ProbeSnapshot second = report.At(kOpen, 1);
  ASSERT_TRUE(IsFreshKeyringOf(report, first, Alice()));
  if (IsReference()) {
    EXPECT_TRUE(IsSameKeyring(second, first));
  } else {
    EXPECT_TRUE(IsFreshKeyringOf(report, second, Alice()));
    EXPECT_FALSE(IsSameKeyring(second, first));
  }
  Record(kTwoSessionsUnrevoked, report.Summary(), kPerHandleState);
}

// Agree: setcred(ESTABLISH) makes the keyring as open_session would.
// pamtester calls setcred without authenticate, so the module's own result
// decides the stack's (reference §4.5).
TEST_P(PamtesterTest, EstablishCredentialsGivesAFreshKeyringOwnedByTheUser) {
  const SessionReport report =
      Credentials({"setcred(PAM_ESTABLISH_CRED)", "open_session"});

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsFreshKeyringOf(report, report.At(kOpen), Alice()));
  Record(kEstablish, report.Summary());
}

// Agree: with `revoke`, setcred(DELETE) revokes what ESTABLISH made.
TEST_P(PamtesterTest, DeleteCredentialsRevokesTheKeyring) {
  const SessionReport report = Credentials(
      {"setcred(PAM_ESTABLISH_CRED)", kDeleteCredentials, "open_session"});

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsRevoked(report.At(kOpen)));
  Record(kDelete, report.Summary());
}

// Agree: with the module on the auth and the session lines, as for a
// display manager whose credential modules need the keyring before the
// session opens, setcred makes the keyring, open_session keeps it and the
// close revokes it (reference E14). The probes before and after the
// module's session line show whether open_session made a second one.
TEST_P(PamtesterTest, EstablishThenOpenMakesOneKeyringRevokedAtClose) {
  const std::string stack =
      ModuleLine("auth required", "force revoke") + ProbeLine() +
      ModuleLine("session required", "force revoke") + ProbeLine();
  const SessionReport report = Pamtester(
      stack, Alice(),
      {"setcred(PAM_ESTABLISH_CRED)", "open_session", "close_session"},
      CallerKeyring::Service());

  EXPECT_EQ(report.run.exit_code, 0);
  const ProbeSnapshot established = report.At(kOpen, 0);
  EXPECT_TRUE(IsFreshKeyringOf(report, established, Alice()));
  EXPECT_TRUE(IsSameKeyring(report.At(kOpen, 1), established));
  EXPECT_TRUE(IsRevoked(report.At(kClose, 1)));
  Record(kEstablishThenOpen, report.Summary());
}

// Agree: with `debug`, both log debug lines naming the keyring they made
// (their wording differs by design, so only the serial is compared).
TEST_P(PamtesterTest, DebugLogsTheSerialOfTheNewKeyring) {
  const SessionReport report =
      OpenAndClose("force revoke debug", CallerKeyring::Service());

  const ProbeSnapshot opened = report.At(kOpen);
  ASSERT_TRUE(opened.session) << opened.error;
  const std::vector<LogLine> debug = report.LogAt(LOG_DEBUG);
  const bool named =
      std::any_of(debug.begin(), debug.end(), [&opened](const LogLine& line) {
        return MentionsNumber(line.text, opened.session->serial);
      });
  EXPECT_TRUE(named) << "no debug line names " << opened.session->serial;
  Record(kDebug, report.Summary() + "; debug lines name the keyring: " +
                     (named ? "yes" : "no"));
}

// Agree: a session that goes as planned leaves no line in the log.
TEST_P(PamtesterTest, CleanSuccessWithoutDebugLogsNothing) {
  const SessionReport report =
      OpenAndClose("force revoke", CallerKeyring::Service());

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_THAT(report.module_log, IsEmpty());
  Record(kQuiet, report.Summary() + "; lines of any level: " +
                     std::to_string(report.module_log.size()));
}

// Agree: listed twice, the module makes one keyring and revokes it at the
// last close (reference E13).
TEST_P(PamtesterTest, ListedTwiceMakesOneKeyringRevokedAtTheLastClose) {
  const std::string line = ModuleLine("session required", "force revoke");
  const SessionReport report =
      Pamtester(line + ProbeLine() + line + ProbeLine(), Alice(),
                {"open_session", "close_session"}, CallerKeyring::Service());

  EXPECT_EQ(report.run.exit_code, 0);
  const ProbeSnapshot first = report.At(kOpen, 0);
  EXPECT_TRUE(IsFreshKeyringOf(report, first, Alice()));
  EXPECT_TRUE(IsSameKeyring(report.At(kOpen, 1), first));
  EXPECT_TRUE(IsSameKeyring(report.At(kClose, 0), first));
  EXPECT_TRUE(IsRevoked(report.At(kClose, 1)));
  Record(kListedTwice, report.Summary());
}

// Agree: a session for root keeps the caller's keyring (sudo-style: keys
// may percolate upwards to root, never down to a user).
TEST_P(PamtesterTest, WithoutForceASessionForRootKeepsTheCallersKeyring) {
  const SessionReport report =
      Pamtester(ModuleLine("session required", "") + ProbeLine(), Root(),
                {"open_session", "close_session"}, CallerKeyring::Service());

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsCallersKeyring(report, report.At(kOpen)));
  Record(kRootTarget, report.Summary());
}

// Agree: a close on a handle that opened nothing changes nothing.
TEST_P(PamtesterTest, CloseWithoutOpenLeavesTheCallersKeyringAlone) {
  const SessionReport report =
      Pamtester(ModuleLine("session required", "force revoke") + ProbeLine(),
                Alice(), {"close_session"}, CallerKeyring::Service());

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsCallersKeyring(report, report.At(kClose)));
  EXPECT_THAT(report.module_log, IsEmpty());
  Record(kCloseWithoutOpen, report.Summary());
}

// Differs (IDs restored): pam_keyinit switches the effective gid for its
// revoke with setregid, which also sets the saved gid, and never puts that
// back (reference E12); this module switches no IDs to revoke.
TEST_P(PamtesterTest, RevokeLeavesTheClientsIdsAsTheyWere) {
  const SessionReport report =
      OpenAndClose("force revoke", CallerKeyring::Service());

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_EQ(report.At(kOpen).client_ids, kRootIds);
  const std::string after_close = report.At(kClose).client_ids;
  if (IsReference()) {
    EXPECT_EQ(after_close, "uid 0/0/0 gid 0/0/" + std::to_string(Alice().gid));
  } else {
    EXPECT_EQ(after_close, kRootIds);
  }
  Record(kClientIds, report.Summary() + "; client after close: " + after_close,
         kIdsRestored);
}

// This module only: `revoke=end` revokes when the application ends the PAM
// transaction, so that the close hooks of later modules still find the
// keyring. The holder keeps the keyring alive past pamtester's exit.
TEST_P(PamtesterTest, RevokeAtEndRevokesTheKeyringWhenTheApplicationEndsPam) {
  if (IsReference()) GTEST_SKIP() << "pam_keyinit has no revoke=end";
  KeyringHolder holder;
  ASSERT_GT(holder.serial(), 0) << "could not make a holder keyring";

  const SessionReport report = Pamtester(
      ModuleLine("session required", "force revoke=end") +
          ProbeLine(holder.serial()),
      Alice(), {"open_session", "close_session"}, CallerKeyring::Service());

  EXPECT_EQ(report.run.exit_code, 0);
  const ProbeSnapshot opened = report.At(kOpen);
  ASSERT_TRUE(IsFreshKeyringOf(report, opened, Alice()));
  EXPECT_TRUE(IsSameKeyring(report.At(kClose), opened))
      << "revoked at close, not at the end";
  ASSERT_TRUE(holder.Holds(opened.session->serial));
  EXPECT_TRUE(holder.IsRevoked(opened.session->serial));
}

INSTANTIATE_TEST_SUITE_P(BothModules, PamtesterTest,
                         ::testing::ValuesIn(BothModules()), ModuleName);

}  // namespace
}  // namespace sessionkeyring::e2e
