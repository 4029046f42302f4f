// The load test: 8 worker processes each open and close 1000 sessions with
// `force revoke`, through real libpam in the e2e sandbox, for 8 test users
// at once, once with pam_sessionkeyring and once with the system's
// pam_keyinit.
//
// Each cycle is a PAM handle of its own (pam_start, open, close, pam_end),
// as every login, su or cron job makes one; so the module's per-handle
// state is made and freed 8000 times, and whatever a handle failed to give
// back would pile up in the worker and in the key counts. (A handle reused
// for every cycle is no client's way of working, and pam_keyinit's cost
// on one grows with every session, which tests/bench measures.)
//
// pam_sessionkeyring must run every session without a failure and leave
// every test user's key count where it was; for pam_keyinit the same
// figures are reported, not asserted. The work is fixed; the time it takes
// is printed and never checked.

#include <gtest/gtest.h>
#include <sys/syslog.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "machine_lock.h"
#include "sandbox.h"
#include "session_load.h"
#include "user_keyrings.h"

namespace sessionkeyring::load {
namespace {

using e2e::Sandbox;
using e2e::TestUser;
using Clock = std::chrono::steady_clock;

constexpr long kWorkers = 8;
constexpr long kCyclesPerWorker = 1000;
constexpr int kUserCount = 8;
// The load test's users are skr-load0... with uid = gid = 64000...; 64000
// to 64009 are the load test's to use.
constexpr uid_t kFirstUid = 64000;
constexpr char kService[] = "skr-load";
// Only a hang comes near these: the run takes seconds.
constexpr std::chrono::minutes kRunTimeout{4};
// Revoked keyrings are destroyed by the kernel's garbage collector, after
// the last reference goes and an RCU grace period: their keys leave the
// counts some time after the run. How long that took is reported.
constexpr std::chrono::seconds kSettleTimeout{30};
constexpr std::chrono::milliseconds kSettlePoll{10};

struct ModuleUnderTest {
  std::string name;  // as pam_syslog names it
  std::string path;  // empty if the build did not find it
  bool is_reference = false;
};

void PrintTo(const ModuleUnderTest& module, std::ostream* out) {
  *out << module.name;
}

std::string ModuleName(const ::testing::TestParamInfo<ModuleUnderTest>& info) {
  return info.param.name;
}

std::vector<TestUser> LoadUsers() {
  std::vector<TestUser> users;
  for (int i = 0; i < kUserCount; ++i) {
    const auto id = static_cast<uid_t>(kFirstUid + static_cast<uid_t>(i));
    users.push_back({"skr-load" + std::to_string(i), id, id});
  }
  return users;
}

// The sandbox, built once before the first test and left after the last,
// and the machine-wide lock, held for the whole process.
class LoadEnvironment final : public ::testing::Environment {
 public:
  void SetUp() override {
    skip_reason_ = Sandbox::WhyUnavailable();
    if (!skip_reason_.empty()) return;
    ASSERT_EQ(testing::HoldMachineTestLock(), "")
        << "Taking the machine-wide test lock";
    std::error_code error;
    self_ = std::filesystem::read_symlink("/proc/self/exe", error);
    ASSERT_FALSE(error) << "read /proc/self/exe: " << error.message();

    auto sandbox = std::make_unique<Sandbox>();
    if (const std::string failure = sandbox->Enter(LoadUsers());
        !failure.empty()) {
      const std::string problems = sandbox->Leave();
      GTEST_FAIL() << "Could not build the sandbox: " << failure << "\n"
                   << problems;
    }
    sandbox_ = std::move(sandbox);
  }

  void TearDown() override {
    if (sandbox_ == nullptr) return;
    const std::string problems = sandbox_->Leave();
    sandbox_.reset();
    EXPECT_EQ(problems, "") << "Leaving the sandbox";
  }

  const std::string& skip_reason() const { return skip_reason_; }
  Sandbox* sandbox() { return sandbox_.get(); }
  const std::filesystem::path& self() const { return self_; }

 private:
  std::string skip_reason_;
  std::unique_ptr<Sandbox> sandbox_;
  std::filesystem::path self_;
};

LoadEnvironment& TheEnvironment() {
  // GoogleTest owns it once main() registers it, and keeps it to the end.
  static LoadEnvironment* const environment = new LoadEnvironment;
  return *environment;
}

// Key counts from /proc/key-users, by uid.
std::map<uid_t, long> CountKeys(const std::vector<TestUser>& users) {
  std::map<uid_t, long> counts;
  for (const TestUser& user : users) {
    counts[user.uid] = testing::KeysOwnedBy(user.uid);
  }
  return counts;
}

// Waits, up to kSettleTimeout from now, until no user owns more keys than
// `limits` allows. Returns the counts at the end, and in `waited` the time
// from `since` to the last count.
std::map<uid_t, long> WaitForCounts(const std::vector<TestUser>& users,
                                    const std::map<uid_t, long>& limits,
                                    Clock::time_point since,
                                    std::chrono::milliseconds& waited) {
  const Clock::time_point deadline = Clock::now() + kSettleTimeout;
  std::map<uid_t, long> counts;
  for (;;) {
    counts = CountKeys(users);
    bool settled = true;
    for (const auto& [uid, keys] : counts) settled &= keys <= limits.at(uid);
    waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        Clock::now() - since);
    if (settled || Clock::now() >= deadline) return counts;
    std::this_thread::sleep_for(kSettlePoll);
  }
}

// What /dev/log received during the run.
struct LogSummary {
  long lines = 0;
  long from_module = 0;
  long module_warnings = 0;  // at LOG_WARNING or more severe
  std::vector<std::string> first_lines;
};

LogSummary SummariseLog(const std::vector<e2e::LogLine>& log,
                        const std::string& module) {
  constexpr size_t kLinesShown = 5;
  LogSummary summary;
  for (const e2e::LogLine& line : log) {
    ++summary.lines;
    if (line.module == module) {
      ++summary.from_module;
      if (line.severity <= LOG_WARNING) ++summary.module_warnings;
    }
    if (summary.first_lines.size() < kLinesShown) {
      summary.first_lines.push_back(line.raw);
    }
  }
  return summary;
}

class SessionLoadTest : public ::testing::TestWithParam<ModuleUnderTest> {
 protected:
  void SetUp() override {
    LoadEnvironment& environment = TheEnvironment();
    if (!environment.skip_reason().empty()) {
      GTEST_SKIP() << environment.skip_reason();
    }
    ASSERT_NE(environment.sandbox(), nullptr) << "the sandbox is broken";
    if (GetParam().path.empty()) {
      GTEST_SKIP() << GetParam().name << " was not found when building";
    }
  }
};

TEST_P(SessionLoadTest, EightWorkersRunEveryCycleAndLeaveNoKey) {
  const ModuleUnderTest& module = GetParam();
  Sandbox& sandbox = *TheEnvironment().sandbox();
  const std::vector<TestUser> users = LoadUsers();
  ASSERT_EQ(sandbox.WriteService(kService, "session required " + module.path +
                                               " force revoke\n"),
            "");

  // Start from nothing of these users', whatever an earlier run left.
  ASSERT_EQ(sandbox.ForgetUserKeyrings(), "");
  const std::map<uid_t, long> before = CountKeys(users);
  const long root_before = testing::KeysOwnedBy(0);

  std::vector<std::string> argv = {
      TheEnvironment().self().string(), std::string(kCoordinatorFlag), kService,
      std::to_string(kWorkers), std::to_string(kCyclesPerWorker)};
  for (const TestUser& user : users) {
    argv.push_back(user.name + ":" + std::to_string(user.uid) + ":" +
                   std::to_string(user.gid));
  }
  const e2e::RunResult run = sandbox.Run(argv, {}, kRunTimeout);
  const Clock::time_point run_end = Clock::now();
  const std::map<uid_t, long> after_run = CountKeys(users);

  // Every session linked its user's keyrings (_uid.<uid> and
  // _uid_ses.<uid>), which the kernel keeps until they are invalidated.
  // First the sessions' own keyrings go, as the garbage collector gets to
  // them (reported, not asserted: the user keyrings are the kernel's to
  // make); then, once the user keyrings are forgotten too, every count must
  // be back where it started.
  constexpr long kUserKeyrings = 2;
  std::map<uid_t, long> with_user_keyrings = before;
  for (auto& [uid, keys] : with_user_keyrings) keys += kUserKeyrings;
  std::chrono::milliseconds sessions_gone{0};
  const std::map<uid_t, long> without_sessions =
      WaitForCounts(users, with_user_keyrings, run_end, sessions_gone);
  const std::string forgotten = sandbox.ForgetUserKeyrings();
  std::chrono::milliseconds waited{0};
  const std::map<uid_t, long> after =
      WaitForCounts(users, before, run_end, waited);
  const long root_after = testing::KeysOwnedBy(0);

  // The coordinator's own failures (exit 1 or 2, or it could not be
  // started) are the harness's; a run that hangs or crashes is the
  // module's.
  constexpr int kExecFailed = 127;
  ASSERT_FALSE(run.exit_code == 1 || run.exit_code == 2 ||
               run.exit_code == Sandbox::kSetupFailedExitCode ||
               run.exit_code == kExecFailed)
      << "the load coordinator could not run\n"
      << e2e::Describe(run);
  LoadReport report;
  const bool reported = run.exit_code == 0 && Parse(run.out, report);
  const LogSummary log = SummariseLog(run.log, module.name);

  std::ostringstream out;
  out << "\n== " << module.name << " force revoke: " << kWorkers
      << " worker processes x " << kCyclesPerWorker
      << " cycles, a PAM handle per cycle, " << users.size() << " users\n";
  if (!reported) {
    out << "   NO REPORT: the run ended with exit code " << run.exit_code
        << (run.timed_out ? " (timed out)" : "") << "\n"
        << e2e::Describe(run);
  } else {
    out << "   sessions run      " << report.sessions << " (" << report.opened
        << " opened, " << report.closed << " closed)\n"
        << "   failures          " << report.Failures() << " (pam_start "
        << report.start_failed << ", open " << report.open_failed << ", close "
        << report.close_failed << ", not the user's fresh keyring "
        << report.not_users_keyring << ", not revoked " << report.not_revoked
        << ", IDs not restored " << report.ids_not_restored
        << ", left in the thread keyring " << report.left_in_thread_keyring
        << ", workers lost " << report.workers_lost << ")\n"
        << "   time              " << std::fixed << std::setprecision(2)
        << report.seconds << " s, " << std::setprecision(0)
        << (report.seconds > 0
                ? static_cast<double>(report.sessions) / report.seconds
                : 0)
        << " sessions/s (printed, not checked)\n";
    for (const std::string& problem : report.problems) {
      out << "   first problem of a worker: " << problem << "\n";
    }
  }
  out << "   keys per user: before / peak during the run / right after the "
         "run / once the sessions' keyrings are collected / after forgetting "
         "the user keyrings\n";
  for (const TestUser& user : users) {
    out << "     " << user.name << " (" << user.uid
        << "): " << before.at(user.uid) << " / "
        << (reported && report.peak_keys.contains(user.uid)
                ? std::to_string(report.peak_keys.at(user.uid))
                : "?")
        << " / " << after_run.at(user.uid) << " / "
        << without_sessions.at(user.uid) << " / " << after.at(user.uid) << "\n";
  }
  out << "   peak keys of all test users at once " << report.peak_keys_all_users
      << "; root's keys: " << root_before << " before, peak "
      << report.peak_keys_root << ", " << root_after << " after ("
      << report.samples << " samples of /proc/key-users)\n"
      << "   after the run, the sessions' keyrings were collected in "
      << sessions_gone.count()
      << " ms; the counts were back where they started after " << waited.count()
      << " ms" << (forgotten.empty() ? "" : "; forgetting failed: " + forgotten)
      << "\n"
      << "   /dev/log: " << log.lines << " line(s), " << log.from_module
      << " from " << module.name << ", " << log.module_warnings
      << " at warning or worse\n";
  for (const std::string& line : log.first_lines) {
    out << "     " << line << "\n";
  }
  std::cout << out.str() << std::flush;

  if (module.is_reference) {
    // Reported, not asserted: flagged so that a reader of the log finds it.
    if (!reported) {
      std::cout << "   FINDING: " << module.name << " gave no report\n";
    }
    if (report.Failures() > 0) {
      std::cout << "   FINDING: " << module.name << " failed "
                << report.Failures() << " check(s) in " << report.sessions
                << " sessions (see the counts and first problems above)\n";
    }
    if (after != before) {
      std::cout << "   FINDING: " << module.name
                << " left keys of the test users after " << waited.count()
                << " ms\n";
    }
    return;
  }
  ASSERT_TRUE(reported) << e2e::Describe(run);
  EXPECT_EQ(report.sessions, kWorkers * kCyclesPerWorker);
  EXPECT_EQ(report.opened, report.sessions);
  EXPECT_EQ(report.closed, report.sessions);
  EXPECT_EQ(report.Failures(), 0);
  EXPECT_EQ(forgotten, "");
  EXPECT_EQ(after, before) << "keys of the test users were left after "
                           << waited.count() << " ms";
  EXPECT_EQ(log.module_warnings, 0)
      << "the module warned during the run, so some session fell back";
}

INSTANTIATE_TEST_SUITE_P(
    Load, SessionLoadTest,
    ::testing::Values(
        ModuleUnderTest{"pam_sessionkeyring", LOAD_MODULE_PATH, false},
        ModuleUnderTest{"pam_keyinit", LOAD_REFERENCE_MODULE_PATH, true}),
    ModuleName);

}  // namespace
}  // namespace sessionkeyring::load

int main(int argc, char** argv) {
  if (argc > 1 && argv[1] == sessionkeyring::load::kCoordinatorFlag) {
    return sessionkeyring::load::RunCoordinator(
        std::vector<std::string>(argv + 2, argv + argc));
  }
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(&sessionkeyring::load::TheEnvironment());
  return RUN_ALL_TESTS();
}
