// The core against the real kernel, as root.
//
// Every case runs in a forked child: the session keyring and IDs it changes
// belong to the child's thread and vanish with it. The child reports
// through GoogleTest as usual (its failures print as they happen) and its
// exit status tells the parent whether any assertion failed.

#include <errno.h>
#include <keyutils.h>
#include <sys/fsuid.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "credentials.h"
#include "gtest/gtest.h"
#include "keyrings.h"
#include "machine_lock.h"
#include "session.h"
#include "user_keyrings.h"

namespace sessionkeyring {
namespace {

// Users that exist only as numbers: the core is handed uid and gid, so no
// passwd entry is needed.
const Target kAlice{"skr-sys-alice", 61101, 61101};
const Target kBob{"skr-sys-bob", 61102, 61102};

class CollectingLog : public LogSink {
 public:
  void Log(LogLevel level, const std::string& message) override {
    if (level != LogLevel::kDebug) lines.push_back(message);
  }
  std::vector<std::string> lines;
};

// Runs `body` in a child process and expects it to finish without a failed
// assertion.
void RunInChild(const std::function<void()>& body) {
  fflush(nullptr);
  const pid_t child = fork();
  ASSERT_GE(child, 0) << "fork: " << ErrnoText(errno);
  if (child == 0) {
    body();
    fflush(nullptr);
    _exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "child died with status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's assertions failed";
}

// Reads the keyring's contents as serials.
std::vector<KeySerial> Contents(KeySerial keyring) {
  void* raw = nullptr;
  const long size = keyctl_read_alloc(keyring, &raw);
  std::vector<KeySerial> serials;
  if (size < 0) return serials;
  const auto* begin = static_cast<const KeySerial*>(raw);
  serials.assign(begin, begin + size / long{sizeof(KeySerial)});
  free(raw);
  return serials;
}

// The serial of `uid`'s user keyring, looked up the way the module does:
// with the real uid switched.
KeySerial UserKeyringOf(uid_t uid) {
  ThreadCredentials credentials;
  ScopedRealIds identity(credentials);
  if (!identity.Switch(uid, uid).ok()) return -1;
  const KeySerial serial = keyctl_get_keyring_ID(KEY_SPEC_USER_KEYRING, 0);
  if (!identity.Restore().ok()) return -1;
  return serial;
}

class SystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_EQ(testing::HoldMachineTestLock(), "");
  }

  // The test users' per-user keyrings outlive every process.
  static void TearDownTestSuite() {
    if (geteuid() != 0) return;
    for (const Target* target : {&kAlice, &kBob}) {
      EXPECT_EQ(testing::ForgetUserKeyrings(target->uid, target->gid), "");
    }
  }

  OpenOutcome Open(const Options& options, const Target& target) {
    Services services{keyrings_, credentials_, log_};
    return OpenSessionKeyring(services, options, target);
  }

  KernelKeyrings keyrings_;
  ThreadCredentials credentials_;
  CollectingLog log_;
};

TEST_F(SystemTest, ForcedOpenGivesTheUserAFreshKeyringWithTheUserKeyring) {
  RunInChild([&] {
    Options options;
    options.force = true;
    const StatusOr<ThreadIds> before = credentials_.Get();
    ASSERT_TRUE(before.ok());

    const OpenOutcome outcome = Open(options, kAlice);

    ASSERT_EQ(outcome.kind, OpenOutcome::Kind::kCreated);
    EXPECT_EQ(keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0),
              outcome.created);
    StatusOr<KeyDescription> description = keyrings_.Describe(outcome.created);
    ASSERT_TRUE(description.ok());
    EXPECT_EQ(description.value().type, "keyring");
    EXPECT_EQ(description.value().description, "_ses");
    EXPECT_EQ(description.value().uid, kAlice.uid);
    EXPECT_EQ(description.value().gid, kAlice.gid);
    EXPECT_EQ(description.value().permissions, 0x3f030000u);
    EXPECT_EQ(Contents(outcome.created),
              std::vector<KeySerial>{UserKeyringOf(kAlice.uid)});
    StatusOr<ThreadIds> after = credentials_.Get();
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after.value(), before.value());
    EXPECT_TRUE(log_.lines.empty());
  });
}

TEST_F(SystemTest, RootOwnedServiceKeyringIsReplacedForAnotherUser) {
  RunInChild([&] {
    const KeySerial service = keyctl_join_session_keyring(nullptr);
    ASSERT_GT(service, 0);

    const OpenOutcome outcome = Open(Options{}, kAlice);

    ASSERT_EQ(outcome.kind, OpenOutcome::Kind::kCreated);
    EXPECT_NE(outcome.created, service);
    StatusOr<KeyDescription> description = keyrings_.Describe(outcome.created);
    ASSERT_TRUE(description.ok());
    EXPECT_EQ(description.value().uid, kAlice.uid);
  });
}

TEST_F(SystemTest, KeyringOwnedByTheUserIsKept) {
  RunInChild([&] {
    const KeySerial own = keyctl_join_session_keyring(nullptr);
    ASSERT_GT(own, 0);
    ASSERT_EQ(keyctl_chown(own, kAlice.uid, kAlice.gid), 0);

    const OpenOutcome outcome = Open(Options{}, kAlice);

    EXPECT_EQ(outcome.kind, OpenOutcome::Kind::kKept);
    EXPECT_EQ(keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0), own);
  });
}

TEST_F(SystemTest, RevokedKeyringCountsAsNone) {
  RunInChild([&] {
    Options options;
    options.force = true;
    const OpenOutcome first = Open(options, kAlice);
    ASSERT_EQ(first.kind, OpenOutcome::Kind::kCreated);
    Services services{keyrings_, credentials_, log_};
    ASSERT_TRUE(RevokeSessionKeyring(services, first.created, 0).ok());

    const OpenOutcome second = Open(Options{}, kAlice);

    ASSERT_EQ(second.kind, OpenOutcome::Kind::kCreated);
    EXPECT_NE(second.created, first.created);
    EXPECT_TRUE(log_.lines.empty());
  });
}

TEST_F(SystemTest, RevokeMakesTheSessionKeyringUnusable) {
  RunInChild([&] {
    Options options;
    options.force = true;
    const OpenOutcome outcome = Open(options, kAlice);
    ASSERT_EQ(outcome.kind, OpenOutcome::Kind::kCreated);
    Services services{keyrings_, credentials_, log_};

    ASSERT_TRUE(RevokeSessionKeyring(services, outcome.created, 0).ok());

    EXPECT_LT(keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0), 0);
    EXPECT_EQ(errno, EKEYREVOKED);
    // A second revocation, as a forked copy of the session would make, is
    // not an error.
    EXPECT_TRUE(RevokeSessionKeyring(services, outcome.created, 0).ok());
    EXPECT_TRUE(log_.lines.empty());
  });
}

TEST_F(SystemTest, SetuidRootCallerGetsAllSixIdsBack) {
  RunInChild([&] {
    // As a setuid-root program runs: real uid and gid of the invoking user.
    ASSERT_TRUE(credentials_.SetGids({kBob.gid, 0, 0}).ok());
    ASSERT_TRUE(credentials_.SetUids({kBob.uid, 0, 0}).ok());
    const StatusOr<ThreadIds> before = credentials_.Get();
    ASSERT_TRUE(before.ok());
    Options options;
    options.force = true;

    const OpenOutcome outcome = Open(options, kAlice);

    EXPECT_EQ(outcome.kind, OpenOutcome::Kind::kCreated);
    StatusOr<ThreadIds> after = credentials_.Get();
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after.value(), before.value());
  });
}

TEST_F(SystemTest, FilesystemIdsSetApartComeBackToo) {
  RunInChild([&] {
    // setresuid() resets the filesystem uid to the effective uid; a caller
    // that had set it apart must find it as it was.
    setfsuid(kBob.uid);
    setfsgid(kBob.gid);
    Options options;
    options.force = true;

    const OpenOutcome outcome = Open(options, kAlice);

    EXPECT_EQ(outcome.kind, OpenOutcome::Kind::kCreated);
    EXPECT_EQ(static_cast<uid_t>(setfsuid(static_cast<uid_t>(-1))), kBob.uid);
    EXPECT_EQ(static_cast<gid_t>(setfsgid(static_cast<gid_t>(-1))), kBob.gid);
  });
}

TEST_F(SystemTest, UnprivilegedCallerWithNoWayBackKeepsItsIds) {
  RunInChild([&] {
    // Real gid Bob's, effective and saved gid Alice's: switching the real
    // gid to Alice's would lose Bob's for good.
    ASSERT_TRUE(credentials_.SetGids({kBob.gid, kAlice.gid, kAlice.gid}).ok());
    ASSERT_TRUE(credentials_.SetUids({kBob.uid, kBob.uid, kBob.uid}).ok());
    const StatusOr<ThreadIds> before = credentials_.Get();
    ASSERT_TRUE(before.ok());

    const OpenOutcome outcome = Open(Options{}, kAlice);

    EXPECT_EQ(outcome.kind, OpenOutcome::Kind::kCreated);
    StatusOr<ThreadIds> after = credentials_.Get();
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after.value(), before.value());
    EXPECT_EQ(log_.lines.size(), 1u);
  });
}

// It cannot become the user, so the session gets a fresh keyring of the
// caller's instead of staying in the one it inherited.
TEST_F(SystemTest, UnprivilegedCallerOpeningForAnotherUserGetsAFreshKeyring) {
  RunInChild([&] {
    ASSERT_TRUE(credentials_.SetGids({kBob.gid, kBob.gid, kBob.gid}).ok());
    ASSERT_TRUE(credentials_.SetUids({kBob.uid, kBob.uid, kBob.uid}).ok());
    const StatusOr<ThreadIds> before = credentials_.Get();
    ASSERT_TRUE(before.ok());

    const StatusOr<KeySerial> inherited = keyrings_.Resolve(kSessionKeyring);
    ASSERT_TRUE(inherited.ok());

    const OpenOutcome outcome = Open(Options{}, kAlice);

    ASSERT_EQ(outcome.kind, OpenOutcome::Kind::kCreated);
    EXPECT_NE(outcome.created, inherited.value());
    StatusOr<KeyDescription> description = keyrings_.Describe(outcome.created);
    ASSERT_TRUE(description.ok());
    EXPECT_EQ(description.value().uid, kBob.uid);
    ASSERT_EQ(log_.lines.size(), 1u);
    EXPECT_NE(log_.lines[0].find("could not switch back"), std::string::npos);
    EXPECT_NE(log_.lines[0].find("as the caller"), std::string::npos);
    StatusOr<ThreadIds> after = credentials_.Get();
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after.value(), before.value());
  });
}

TEST_F(SystemTest, UnprivilegedCallerOpensItsOwnSession) {
  RunInChild([&] {
    ASSERT_TRUE(credentials_.SetGids({kBob.gid, kBob.gid, kBob.gid}).ok());
    ASSERT_TRUE(credentials_.SetUids({kBob.uid, kBob.uid, kBob.uid}).ok());
    Options options;
    options.force = true;

    const OpenOutcome outcome = Open(options, kBob);

    ASSERT_EQ(outcome.kind, OpenOutcome::Kind::kCreated);
    StatusOr<KeyDescription> description = keyrings_.Describe(outcome.created);
    ASSERT_TRUE(description.ok());
    EXPECT_EQ(description.value().uid, kBob.uid);
  });
}

TEST_F(SystemTest, RevocationNeedsNoIdentityAfterTheCallerDroppedPrivileges) {
  RunInChild([&] {
    Options options;
    options.force = true;
    const OpenOutcome outcome = Open(options, kAlice);
    ASSERT_EQ(outcome.kind, OpenOutcome::Kind::kCreated);
    ASSERT_TRUE(
        credentials_.SetGids({kAlice.gid, kAlice.gid, kAlice.gid}).ok());
    ASSERT_TRUE(
        credentials_.SetUids({kAlice.uid, kAlice.uid, kAlice.uid}).ok());
    Services services{keyrings_, credentials_, log_};

    EXPECT_TRUE(RevokeSessionKeyring(services, outcome.created, 0).ok());

    EXPECT_TRUE(log_.lines.empty());
  });
}

TEST_F(SystemTest, OtherThreadsKeepTheirIdsWhileOneSwitches) {
  RunInChild([&] {
    std::atomic<bool> stop{false};
    std::atomic<long> foreign_samples{0};
    std::thread watcher([&] {
      while (!stop.load()) {
        uid_t real = 0, effective = 0, saved = 0;
        if (getresuid(&real, &effective, &saved) != 0 || real != 0 ||
            effective != 0 || saved != 0) {
          ++foreign_samples;
        }
      }
    });
    Options options;
    options.force = true;
    for (int i = 0; i < 200; ++i) {
      const OpenOutcome outcome = Open(options, i % 2 ? kAlice : kBob);
      ASSERT_EQ(outcome.kind, OpenOutcome::Kind::kCreated);
      Services services{keyrings_, credentials_, log_};
      ASSERT_TRUE(RevokeSessionKeyring(services, outcome.created, 0).ok());
    }
    stop = true;
    watcher.join();

    EXPECT_EQ(foreign_samples.load(), 0);
  });
}

}  // namespace
}  // namespace sessionkeyring
