// Inputs from the field that have broken other PAM modules, through real
// libpam and pamtester, against both modules: argument words that are
// almost right (`revoke=`, `=`, an empty word, repeated words, the wrong
// case), passwd entries with unusual gids, a user removed from passwd while
// the session is open, and user names that are numbers, very long or not
// UTF-8. Each test states the PAM codes, the log lines and who owns the
// session keyring.
//
// The users live only in the sandbox's passwd file, added by this suite
// (uids 64110 to 64119) and removed again, with their keyrings, at its end.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <syslog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "caller_keyring.h"
#include "environment.h"
#include "module_test.h"
#include "user_keyrings.h"

namespace sessionkeyring::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

// A gid with no line in the group file.
const TestUser& NoGroupLine() {
  static const TestUser kUser{"skr-f-nogrp", 64111, 64191};
  return kUser;
}
// The overflow gid, "nogroup" on Debian.
const TestUser& OverflowGid() {
  static const TestUser kUser{"skr-f-nogroup", 64112, 65534};
  return kUser;
}
// Gids that are negative as a signed 32-bit number.
const TestUser& GidOf2To31() {
  static const TestUser kUser{"skr-f-gid2p31", 64113, 2147483648U};
  return kUser;
}
const TestUser& LargestValidGid() {
  static const TestUser kUser{"skr-f-gidmax", 64114, 4294967294U};
  return kUser;
}
// (gid_t)-1, which set*gid() read as "leave this ID alone".
const TestUser& InvalidGid() {
  static const TestUser kUser{"skr-f-gidneg", 64118, 4294967295U};
  return kUser;
}
const TestUser& Plain() {
  static const TestUser kUser{"skr-f-plain", 64110, 64110};
  return kUser;
}
const TestUser& Removable() {
  static const TestUser kUser{"skr-f-gone", 64115, 64115};
  return kUser;
}
// A name that is a number, and the uid of another user.
const TestUser& NumericName() {
  static const TestUser kUser{"64110", 64116, 64116};
  return kUser;
}
// A name that a careless parser reads as uid 0.
const TestUser& DigitFirstName() {
  static const TestUser kUser{"0day", 64119, 64119};
  return kUser;
}
const TestUser& LongName() {
  static const TestUser kUser{"skr-f-long-" + std::string(189, 'l'), 64117,
                              64117};
  return kUser;
}

std::vector<TestUser> FieldUsers() {
  return {Plain(),           NoGroupLine(),   OverflowGid(), GidOf2To31(),
          LargestValidGid(), Removable(),     NumericName(), LongName(),
          InvalidGid(),      DigitFirstName()};
}

// The users whose gid gets a line in the group file.
bool HasGroupLine(const TestUser& user) { return user.gid == user.uid; }

std::string PasswdLine(const TestUser& user) {
  return user.name + ":x:" + std::to_string(user.uid) + ":" +
         std::to_string(user.gid) +
         ":field input test user:/nonexistent:" + "/usr/sbin/nologin\n";
}

bool ReadText(const std::string& path, std::string& text) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  text = buffer.str();
  return static_cast<bool>(in);
}

// Rewrites a file in place: inside the sandbox /etc/passwd is a bind mount
// of the sandbox's copy, which a rename would not replace.
bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

// pam_exec runs this at open_session, after the module, to take the user
// named by its argument out of passwd while the session is open.
constexpr char kRemoveUserScript[] =
    "#!/bin/sh\n"
    "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
    "remaining=$(grep -v \"^$1:\" /etc/passwd)\n"
    "printf '%s\\n' \"$remaining\" > /etc/passwd\n";

// keyctl prints a key's uid and gid as signed 32-bit numbers, so that a gid
// of 2^31 or more reads as negative ("keyring;64114;-2;3f030000;_ses"),
// which the probe's parser does not take: for those users the keyring is
// checked on the probe's own line. Otherwise as IsFreshKeyringOf().
::testing::AssertionResult OpenedAFreshKeyringOf(const SessionReport& report,
                                                 const TestUser& user) {
  const ProbeSnapshot opened = report.At(kOpen);
  if (user.gid <= std::numeric_limits<int32_t>::max()) {
    return IsFreshKeyringOf(report, opened, user);
  }
  const std::string prefix = "probe " + std::string(kOpen) + " session ";
  const std::string described = " keyring;" + std::to_string(user.uid) + ";" +
                                std::to_string(static_cast<int32_t>(user.gid)) +
                                ";3f030000;_ses";
  std::istringstream lines(report.run.out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(prefix) || !line.ends_with(described)) continue;
    const std::string serial = line.substr(
        prefix.size(), line.size() - prefix.size() - described.size());
    const std::optional<int32_t> caller = report.CallerSerial();
    if (caller && serial == std::to_string(*caller)) {
      return ::testing::AssertionFailure() << "the caller's keyring: " << line;
    }
    if (!opened.LinksUserKeyringOf(user.uid)) {
      return ::testing::AssertionFailure() << "no _uid." << user.uid;
    }
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "no probe line ends with" << described << ":\n"
         << report.run.out;
}

// Where the two modules log differently by design, beyond the rows that
// module_test.h names.
constexpr std::string_view kOutsideTextQuoted =
    "text from outside is quoted in the log, bytes outside printable ASCII "
    "escaped, and cut after 64 bytes (log_sink.h)";
constexpr std::string_view kIdsChecked =
    "every ID switch is read back, and a switch that did not happen gives a "
    "keyring made as the caller; pam_keyinit does not notice that gid "
    "4294967295 was never set and makes the keyring in root's group";

// How long the kernel gets to collect the keys of sessions that ended.
constexpr std::chrono::seconds kKeyCollectionTimeout{5};

// What pamtester prints for PAM_USER_UNKNOWN.
constexpr char kUserUnknownText[] =
    "User not known to the underlying authentication module";

class FieldInputTest : public ModuleTest {
 protected:
  static void SetUpTestSuite() {
    if (TheEnvironment().sandbox() == nullptr) return;
    std::string passwd;
    std::string group;
    ASSERT_TRUE(ReadText("/etc/passwd", passwd));
    ASSERT_TRUE(ReadText("/etc/group", group));
    *original_passwd_ = passwd;
    *original_group_ = group;
    for (const TestUser& user : FieldUsers()) {
      passwd += PasswdLine(user);
      if (HasGroupLine(user)) {
        group += user.name + ":x:" + std::to_string(user.gid) + ":\n";
      }
    }
    ASSERT_TRUE(WriteText("/etc/passwd", passwd));
    ASSERT_TRUE(WriteText("/etc/group", group));
    users_added_ = true;
  }

  // Puts passwd and group back and forgets the users' keyrings, then
  // checks that they own no key: every session ended with its client.
  static void TearDownTestSuite() {
    if (!users_added_) return;
    EXPECT_TRUE(WriteText("/etc/passwd", *original_passwd_));
    EXPECT_TRUE(WriteText("/etc/group", *original_group_));
    users_added_ = false;
    for (const TestUser& user : FieldUsers()) {
      if (testing::KeysOwnedBy(user.uid) == 0) continue;
      EXPECT_EQ(testing::ForgetUserKeyrings(user.uid, user.gid), "")
          << user.name;
    }
    const auto deadline =
        std::chrono::steady_clock::now() + kKeyCollectionTimeout;
    for (const TestUser& user : FieldUsers()) {
      while (testing::KeysOwnedBy(user.uid) != 0 &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      EXPECT_EQ(testing::KeysOwnedBy(user.uid), 0) << user.name;
    }
  }

  // The module on a required session line with `options`, then the probe;
  // open_session and close_session for `user`, from a service's keyring.
  SessionReport Session(
      std::string_view options, const TestUser& user = Plain(),
      const CallerKeyring& caller = CallerKeyring::Service()) {
    return Pamtester(ModuleLine("session required", options) + ProbeLine(),
                     user, {"open_session", "close_session"}, caller);
  }

  // Only this module warns about ignored words: one warning each, at open,
  // in order, naming the word as it quotes it. pam_keyinit says nothing.
  void ExpectWarningsNaming(const SessionReport& report,
                            const std::vector<std::string>& words) const {
    if (IsReference()) {
      EXPECT_THAT(report.module_log, IsEmpty());
      return;
    }
    ASSERT_THAT(report.module_log, SizeIs(words.size()));
    for (size_t i = 0; i < words.size(); ++i) {
      EXPECT_EQ(report.module_log[i].severity, LOG_WARNING);
      EXPECT_THAT(report.module_log[i].text, HasSubstr("\"" + words[i] + "\""));
    }
  }

  // Opens and closes a revoked session for `user` from a service's
  // keyring; the keyring must be the user's, with the passwd entry's gid.
  SessionReport ExpectOrdinarySessionFor(const TestUser& user) {
    SCOPED_TRACE(user.name + " gid " + std::to_string(user.gid));
    SessionReport report = Session("force revoke", user);

    EXPECT_EQ(report.run.exit_code, 0);
    EXPECT_TRUE(OpenedAFreshKeyringOf(report, user));
    EXPECT_TRUE(IsRevoked(report.At(kClose)));
    EXPECT_THAT(report.module_log, IsEmpty());
    return report;
  }

  // A user passwd does not know: the open fails with PAM_USER_UNKNOWN and
  // one notice.
  SessionReport UnknownUserSession(const std::string& name) {
    return Pamtester(ModuleLine("session required", "force revoke"),
                     TestUser{name, 0, 0}, {"open_session"},
                     CallerKeyring::Service());
  }

 private:
  static inline bool users_added_ = false;
  static inline std::string* const original_passwd_ = new std::string;
  static inline std::string* const original_group_ = new std::string;
};

// 1. Argument words.

// Agree on the keyring: `revoke=` is not `revoke`, so nothing is revoked.
// Differ on the log (unknown arguments warned).
TEST_P(FieldInputTest, RevokeWithAnEmptyValueIsIgnored) {
  const SessionReport report = Session("force revoke=");

  EXPECT_EQ(report.run.exit_code, 0);
  const ProbeSnapshot opened = report.At(kOpen);
  EXPECT_TRUE(IsFreshKeyringOf(report, opened, Plain()));
  EXPECT_TRUE(IsSameKeyring(report.At(kClose), opened));
  ExpectWarningsNaming(report, {"revoke="});
  Record("F1. force revoke=", report.Summary(), kUnknownArgumentsWarned);
}

TEST_P(FieldInputTest, ALoneEqualsSignIsIgnored) {
  const SessionReport report = Session("force revoke =");

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsFreshKeyringOf(report, report.At(kOpen), Plain()));
  EXPECT_TRUE(IsRevoked(report.At(kClose)));
  ExpectWarningsNaming(report, {"="});
  Record("F2. force revoke =", report.Summary(), kUnknownArgumentsWarned);
}

// libpam reads `[]` in a service file as an empty argument.
TEST_P(FieldInputTest, AnEmptyArgumentIsIgnored) {
  const SessionReport report = Session("force [] revoke");

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsFreshKeyringOf(report, report.At(kOpen), Plain()));
  EXPECT_TRUE(IsRevoked(report.At(kClose)));
  ExpectWarningsNaming(report, {""});
  Record("F3. force [] revoke (an empty argument)", report.Summary(),
         kUnknownArgumentsWarned);
}

// Agree: a word said twice means what it means once, without a warning.
TEST_P(FieldInputTest, RepeatedOptionsAreAcceptedSilently) {
  const SessionReport report = Session("force revoke force revoke");

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsFreshKeyringOf(report, report.At(kOpen), Plain()));
  EXPECT_TRUE(IsRevoked(report.At(kClose)));
  EXPECT_THAT(report.module_log, IsEmpty());
  Record("F4. force revoke force revoke", report.Summary());
}

// Agree: the later of two revoke words wins, so `revoke=end revoke`
// revokes at close (pam_keyinit knows only `revoke`, and says nothing
// about `revoke=end`, which this module understands).
TEST_P(FieldInputTest, TheLaterOfTwoRevokeWordsWins) {
  const SessionReport report = Session("force revoke=end revoke");

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsRevoked(report.At(kClose)));
  EXPECT_THAT(report.module_log, IsEmpty());
  Record("F5. force revoke=end revoke", report.Summary());
}

// Agree on the keyring: matching is case-sensitive, as in pam_keyinit, so
// `REVOKE` revokes nothing.
TEST_P(FieldInputTest, RevokeInCapitalsIsIgnored) {
  const SessionReport report = Session("force REVOKE");

  EXPECT_EQ(report.run.exit_code, 0);
  const ProbeSnapshot opened = report.At(kOpen);
  EXPECT_TRUE(IsFreshKeyringOf(report, opened, Plain()));
  EXPECT_TRUE(IsSameKeyring(report.At(kClose), opened));
  ExpectWarningsNaming(report, {"REVOKE"});
  Record("F6. force REVOKE", report.Summary(), kUnknownArgumentsWarned);
}

// Agree on the keyring: `Force` is not `force`, so a keyring the user
// already owns is kept.
TEST_P(FieldInputTest, ForceCapitalisedIsIgnored) {
  const SessionReport report = Session(
      "Force revoke", Plain(), CallerKeyring::AnonymousOwnedBy(Plain()));

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsCallersKeyring(report, report.At(kOpen)));
  ExpectWarningsNaming(report, {"Force"});
  Record("F7. Force revoke; caller on a keyring owned by the user",
         report.Summary(), kUnknownArgumentsWarned);
}

TEST_P(FieldInputTest, EachIgnoredWordGetsAWarningOfItsOwnInOrder) {
  const SessionReport report =
      Session("revoke= force = [] REVOKE revoke Force");

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsFreshKeyringOf(report, report.At(kOpen), Plain()));
  EXPECT_TRUE(IsRevoked(report.At(kClose)));
  ExpectWarningsNaming(report, {"revoke=", "=", "", "REVOKE", "Force"});
  Record("F8. revoke= force = [] REVOKE revoke Force", report.Summary(),
         kUnknownArgumentsWarned);
}

// 2. Unusual passwd entries.

// Agree: the keyring's gid is the passwd entry's, whether or not a group
// of that number exists, and even when it is negative as a signed number.
TEST_P(FieldInputTest, UnusualGidsAreTheKeyringsGid) {
  std::string summaries;
  for (const TestUser& user :
       {NoGroupLine(), OverflowGid(), GidOf2To31(), LargestValidGid()}) {
    summaries += "gid " + std::to_string(user.gid) + ": " +
                 ExpectOrdinarySessionFor(user).Summary() + "; ";
  }
  Record(
      "F9. force revoke; users with gids without a group, 65534, 2^31, "
      "2^32-2",
      summaries);
}

// Differ: a passwd gid of (gid_t)-1 cannot be switched to, since set*gid()
// takes it as "leave the gid alone". This module reads the IDs back, sees
// the switch did not happen, and gives the session a fresh keyring made as
// the caller, with one warning; pam_keyinit goes on as gid 0 and gives the
// user a keyring in root's group.
TEST_P(FieldInputTest, TheInvalidGidGetsAKeyringMadeAsTheCallerWithAWarning) {
  const SessionReport report = Session("force revoke", InvalidGid());

  const ProbeSnapshot opened = report.At(kOpen);
  EXPECT_EQ(report.run.exit_code, 0) << report.Summary();
  ASSERT_TRUE(opened.session) << opened.error;
  if (IsReference()) {
    EXPECT_EQ(opened.session->uid, InvalidGid().uid);
    EXPECT_EQ(opened.session->gid, 0u);
  } else {
    ASSERT_THAT(report.module_log, SizeIs(1));
    EXPECT_EQ(report.module_log[0].severity, LOG_WARNING);
    EXPECT_THAT(report.module_log[0].text, HasSubstr("4294967295"));
    EXPECT_THAT(report.module_log[0].text,
                HasSubstr("\"" + InvalidGid().name + "\""));
    // Fresh and the caller's, not the keyring the caller was in.
    EXPECT_EQ(opened.session->uid, 0u);
    EXPECT_EQ(opened.session->description, "_ses");
    EXPECT_FALSE(IsSameKeyring(opened, report.At(kCaller)));
    EXPECT_TRUE(report.At(kClose).revoked()) << report.Summary();
  }
  Record("F10. force revoke; a user with gid 4294967295", report.Summary(),
         kIdsChecked);
}

// Both revoke at close a keyring made for a user who is no longer in
// passwd: closing needs nothing from the user database.
TEST_P(FieldInputTest, AUserRemovedAfterOpenStillHasTheKeyringRevokedAtClose) {
  const std::filesystem::path script = sandbox().dir() / "remove_user.sh";
  ASSERT_TRUE(WriteText(script.string(), kRemoveUserScript));
  ASSERT_EQ(chmod(script.c_str(), 0755), 0);
  std::string passwd_before;
  ASSERT_TRUE(ReadText("/etc/passwd", passwd_before));

  const SessionReport report = Pamtester(
      ModuleLine("session required", "force revoke") +
          "session required pam_exec.so type=open_session " + script.string() +
          " " + Removable().name + "\n" + ProbeLine(),
      Removable(), {"open_session", "close_session"}, CallerKeyring::Service());

  std::string passwd_after;
  ASSERT_TRUE(ReadText("/etc/passwd", passwd_after));
  ASSERT_TRUE(WriteText("/etc/passwd", passwd_before));
  EXPECT_THAT(passwd_after, Not(HasSubstr(Removable().name + ":")))
      << "the user was not removed";
  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsFreshKeyringOf(report, report.At(kOpen), Removable()));
  EXPECT_TRUE(IsRevoked(report.At(kClose)));
  EXPECT_THAT(report.module_log, IsEmpty());
  Record("F11. force revoke; the user leaves passwd between open and close",
         report.Summary());
}

// 3. User names.

// Agree: a name that is a number is a name. "64110" is the name of uid
// 64116, and the uid of another user.
TEST_P(FieldInputTest, ANumericNameIsLookedUpAsAName) {
  const SessionReport report = Session("force revoke", NumericName());

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsFreshKeyringOf(report, report.At(kOpen), NumericName()));
  EXPECT_TRUE(IsRevoked(report.At(kClose)));
  Record("F12. force revoke; user \"64110\" (uid 64116)", report.Summary());
}

// Agree: a number that names no user is unknown, even if it is a uid.
TEST_P(FieldInputTest, ANumberThatIsOnlyAUidIsAnUnknownUser) {
  const SessionReport report =
      UnknownUserSession(std::to_string(NoGroupLine().uid));

  EXPECT_EQ(report.run.exit_code, 1);
  EXPECT_THAT(report.run.err, HasSubstr(kUserUnknownText));
  ASSERT_THAT(report.module_log, SizeIs(1));
  EXPECT_EQ(report.module_log[0].severity, LOG_NOTICE);
  Record("F13. force revoke; user \"64111\" (a uid, no such name)",
         report.Summary());
}

// Agree: "0day" is uid 64119, never root.
TEST_P(FieldInputTest, ANameStartingWithZeroIsNotRoot) {
  const SessionReport report = Session("force revoke", DigitFirstName());

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsFreshKeyringOf(report, report.At(kOpen), DigitFirstName()));
  EXPECT_TRUE(IsRevoked(report.At(kClose)));
  Record("F14. force revoke; user \"0day\" (uid 64119)", report.Summary());
}

// Agree: a 200-character name is a name like any other.
TEST_P(FieldInputTest, AVeryLongNameWorks) {
  Record("F15. force revoke; a user with a 200-character name",
         ExpectOrdinarySessionFor(LongName()).Summary());
}

// Differs in the notice only: this module quotes an unknown name cut to 64
// bytes, so that a hostile name cannot flood the log; pam_keyinit logs it
// whole.
TEST_P(FieldInputTest, AVeryLongUnknownNameIsCutInTheLog) {
  const std::string name = "skr-f-" + std::string(5000, 'u');
  const SessionReport report = UnknownUserSession(name);

  EXPECT_EQ(report.run.exit_code, 1);
  EXPECT_THAT(report.run.err, HasSubstr(kUserUnknownText));
  ASSERT_THAT(report.module_log, SizeIs(1));
  const LogLine& notice = report.module_log[0];
  EXPECT_EQ(notice.severity, LOG_NOTICE);
  if (IsReference()) {
    EXPECT_THAT(notice.text, HasSubstr(name));
  } else {
    EXPECT_THAT(notice.text, HasSubstr("\"" + name.substr(0, 64) + "\"..."));
    EXPECT_LT(notice.text.size(), 200u) << notice.text;
  }
  Record("F16. force revoke; an unknown 5006-character name",
         report.Summary() + "; notice of " +
             std::to_string(notice.text.size()) + " characters",
         kOutsideTextQuoted);
}

// Differs in the notice only: this module escapes bytes that are not
// printable ASCII; pam_keyinit writes them to the log as they are.
TEST_P(FieldInputTest, ANonUtf8UnknownNameIsEscapedInTheLog) {
  const SessionReport report = UnknownUserSession("skr-f-\xff\xfe\x1b[2J");

  EXPECT_EQ(report.run.exit_code, 1);
  EXPECT_THAT(report.run.err, HasSubstr(kUserUnknownText));
  ASSERT_THAT(report.module_log, SizeIs(1));
  const std::string& text = report.module_log[0].text;
  const bool printable = std::all_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 &&
           static_cast<unsigned char>(c) < 0x7f;
  });
  if (IsReference()) {
    EXPECT_THAT(text, HasSubstr("\xff\xfe"));
  } else {
    EXPECT_TRUE(printable) << text;
    EXPECT_THAT(text, HasSubstr("\"skr-f-\\xff\\xfe\\x1b[2J\""));
  }
  Record(
      "F17. force revoke; an unknown name with bytes 0xff 0xfe ESC",
      report.Summary() + "; notice printable: " + (printable ? "yes" : "no"));
}

INSTANTIATE_TEST_SUITE_P(BothModules, FieldInputTest,
                         ::testing::ValuesIn(BothModules()), ModuleName);

}  // namespace
}  // namespace sessionkeyring::e2e
