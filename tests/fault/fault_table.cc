// fault_table: every call the module makes, failed with each errno, in
// each PAM hook, through real libpam, checked against the rules in
// fault_rules.h, and printed as a table.
//
// Each row is one fault_driver run in the e2e sandbox (a private mount
// namespace with its own /etc/pam.d, passwd and /dev/log), as root, for a
// test user of its own, starting in a fresh anonymous session keyring of
// root's as a service would. The driver makes the call fail only while the
// hook under test runs: every call of its kind, only the first, or only
// the Nth for each later N up to the number of such calls the hook makes
// without a fault (counted first by a run whose fault never fires). A call
// the hook never made is "not reached", which is neither a pass nor a
// failure. Before the rows, one control run per hook and option set,
// without a fault, shows that the harness sees what the module does.
//
// Exits 0 if every row passed or was not reached, 1 if any failed, 77 (a
// skip) without root, mount namespaces or seccomp user notification.

#include <errno.h>
#include <keyutils.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "fault_injection.h"
#include "fault_rules.h"
#include "machine_lock.h"
#include "sandbox.h"
#include "user_keyrings.h"

namespace sessionkeyring::fault {
namespace {

using e2e::RunResult;
using e2e::Sandbox;
using e2e::TestUser;
using Clock = std::chrono::steady_clock;

constexpr int kSkip = 77;
constexpr char kService[] = "skr-fault";
constexpr char kModuleName[] = "pam_sessionkeyring";
// The fault table's test users are skr-fault0... with uid = gid = 64200...;
// 64200 to 64209 are the fault table's to use.
const TestUser kUser{"skr-fault0", 64200, 64200};
constexpr std::chrono::seconds kRunTimeout{10};
// Failures printed in full after the table; the rest only in their rows.
constexpr int kDetailedFailures = 20;

// The sets of module arguments each row runs with. `revoke` applies in all
// of them, so the holder keyring (add_key) and the revocation are made;
// without `force` the inherited keyring is looked up and described first;
// `persistent` adds get_persistent and `strict` turns missing keyrings
// into an error.
constexpr OptionSet kOptionSets[] = {
    {"force revoke", true, false},
    {"revoke", false, false},
    {"force revoke persistent strict", true, true},
};

struct Row {
  Case test_case;
  Judgement judgement;
  std::string log;      // the module's lines at notice or above
  std::string details;  // everything about the run, for a failure
  long failed = -1;     // calls of the fault's kind failed, -1 if unknown
  long made = -1;       // and made in the hook under test
  bool timed_out = false;
};

// Whether this kernel lets a process hand its calls to a supervisor.
std::string WhySeccompUnavailable() {
  const pid_t child = fork();
  if (child < 0) return std::string("fork: ") + std::strerror(errno);
  if (child == 0) {
    const int listener = InstallFilter({SYS_getppid});
    _exit(listener >= 0 ? 0 : errno);
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child) return "waitpid failed";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  return std::string("no seccomp user notification: ") +
         std::strerror(WIFEXITED(status) ? WEXITSTATUS(status) : EINVAL);
}

std::string SeverityTag(int severity) {
  switch (severity) {
    case LOG_EMERG:
    case LOG_ALERT:
    case LOG_CRIT:
      return "crit";
    case LOG_ERR:
      return "err";
    case LOG_WARNING:
      return "warning";
    case LOG_NOTICE:
      return "notice";
  }
  return std::to_string(severity);
}

std::string Join(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) {
    text += (text.empty() ? "" : " ") + word;
  }
  return text;
}

Row RunCase(Sandbox& sandbox, const Case& test_case) {
  std::vector<std::string> argv = {FAULT_DRIVER, kService, kUser.name,
                                   std::string(HookName(test_case.hook))};
  if (test_case.fault) {
    const Fault& fault = *test_case.fault;
    argv.insert(argv.end(),
                {std::string(fault.call), ErrnoName(fault.error_number),
                 fault.nth == kEveryCall ? "all" : std::to_string(fault.nth)});
  }
  // A fresh anonymous keyring of root's, as a service has.
  const RunResult run = sandbox.Run(
      argv,
      []() -> std::string {
        if (keyctl_join_session_keyring(nullptr) < 0) {
          return std::string("join: ") + std::strerror(errno);
        }
        return {};
      },
      kRunTimeout);

  Observed observed;
  observed.exit_code = run.exit_code;
  observed.report = ParseDriverOutput(run.out);
  Row row;
  for (const e2e::LogLine& line : run.log) {
    if (line.module != kModuleName || line.severity > LOG_NOTICE) continue;
    observed.lines.push_back({line.severity, line.text});
    row.log += (row.log.empty() ? "" : " | ") + SeverityTag(line.severity) +
               ": " + line.text;
  }
  row.test_case = test_case;
  row.timed_out = run.timed_out;
  if (observed.report && observed.report->has_fault_line) {
    row.failed = observed.report->failed;
    row.made = observed.report->matched;
  }
  row.judgement = Judge(test_case, observed);
  if (row.judgement.verdict == Verdict::kFail) {
    row.details = "driver: " + Join(argv) + "\n" + Describe(run);
  }
  return row;
}

std::string Pad(std::string_view text, size_t width) {
  std::string padded(text);
  if (padded.size() < width) padded.resize(width, ' ');
  return padded + "  ";
}

std::string_view VerdictText(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kNotReached:
      return "not reached";
    case Verdict::kFail:
      break;
  }
  return "FAIL";
}

std::string Problems(const Judgement& judgement) {
  std::string text;
  for (const std::string& problem : judgement.problems) {
    text += (text.empty() ? "" : "; ") + problem;
  }
  return text;
}

// "failed/made" counts the calls of the fault's kind that the hook made and
// how many of them were failed. The verdict comes before the log line,
// whose length varies, so that the verdicts line up; a failure's reasons
// follow on a line of their own.
void PrintHeader() {
  std::cout << Pad("call", 21) << Pad("errno", 11) << Pad("fails", 5)
            << Pad("hook", 9) << Pad("options", 30) << Pad("failed/made", 11)
            << Pad("PAM code", 15) << Pad("verdict", 11) << "log line\n";
}

void PrintRow(const Row& row) {
  const Case& test_case = row.test_case;
  const Fault& fault = *test_case.fault;
  const int code = row.judgement.code;
  std::cout << Pad(fault.call, 21) << Pad(ErrnoName(fault.error_number), 11)
            << Pad(WhichName(fault.nth), 5) << Pad(HookName(test_case.hook), 9)
            << Pad(test_case.options.text, 30)
            << Pad(row.made < 0 ? std::string("-")
                                : std::to_string(row.failed) + "/" +
                                      std::to_string(row.made),
                   11)
            << Pad(code >= 0 ? PamCodeName(code) : std::string("-"), 15)
            << Pad(VerdictText(row.judgement.verdict), 11)
            << (row.log.empty() ? "-" : row.log) << "\n";
  if (row.judgement.verdict == Verdict::kFail) {
    std::cout << "    why: " << Problems(row.judgement) << "\n";
  }
}

// Gets rid of the user's persistent keyring, which the kernel otherwise
// keeps for days after its last use. It is fetched into a throwaway
// session keyring of a child: possessing it there gives root the right to
// invalidate a keyring that belongs to someone else. Returns an error
// message, or an empty string (also when the kernel has none).
std::string ForgetPersistentKeyring(Sandbox& sandbox) {
  const RunResult run = sandbox.Run({"true"}, []() -> std::string {
    if (keyctl_join_session_keyring(nullptr) < 0) {
      return std::string("join: ") + std::strerror(errno);
    }
    const long persistent =
        keyctl_get_persistent(kUser.uid, KEY_SPEC_SESSION_KEYRING);
    if (persistent < 0) {
      return errno == EOPNOTSUPP ? std::string()
                                 : std::string("get: ") + std::strerror(errno);
    }
    if (keyctl_invalidate(static_cast<key_serial_t>(persistent)) < 0) {
      return std::string("invalidate: ") + std::strerror(errno);
    }
    return {};
  });
  return run.exit_code == 0 ? std::string() : Describe(run);
}

// Waits for the kernel to destroy the user's last keys; returns how many
// are left.
int WaitForNoKeysOfUser() {
  for (int tries = 0; tries < 100; ++tries) {
    if (testing::KeysOwnedBy(kUser.uid) == 0) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return testing::KeysOwnedBy(kUser.uid);
}

// What the runs found, for the report.
struct Results {
  std::vector<Row> rows;
  std::vector<std::string> problems;  // controls and cleanup
  int timeouts = 0;
  int driver_runs = 0;
  // Not checked, only reported: how long the machine lock and the runs took.
  Clock::duration waited{};
  Clock::duration ran{};
};

// The driver's runs time out only if something hangs (a stopped call that
// is never answered); after a few, the rest would only do the same.
constexpr int kMaxTimeouts = 3;

void Record(Results& results, Row row) {
  ++results.driver_runs;
  if (row.timed_out) ++results.timeouts;
  results.rows.push_back(std::move(row));
}

// How many calls `call` the hook of `test_case` makes when none fails,
// from a run whose fault never fires; such a run must behave like one
// without a fault.
long CountCalls(Sandbox& sandbox, Case test_case, const Call& call,
                Results& results) {
  constexpr long kNever = 1'000'000;
  test_case.fault = Fault{call.name, EPERM, kNever};
  Row row = RunCase(sandbox, test_case);
  ++results.driver_runs;
  if (row.judgement.verdict != Verdict::kNotReached) {
    results.problems.push_back(
        "counting " + std::string(call.name) + " in " +
        std::string(HookName(test_case.hook)) + " with \"" +
        std::string(test_case.options.text) +
        "\" failed: " + Problems(row.judgement) + "\n" + row.details);
  }
  if (row.timed_out) ++results.timeouts;
  return std::max(row.made, 0L);
}

// The controls and every row for one set of module arguments. False if
// the runs should stop.
bool RunOptionSet(Sandbox& sandbox, const OptionSet& options,
                  Results& results) {
  const std::string module_line =
      std::string(FAULT_MODULE_PATH) + " " + std::string(options.text) + "\n";
  if (std::string failure =
          sandbox.WriteService(kService, "auth required " + module_line +
                                             "session required " + module_line);
      !failure.empty()) {
    results.problems.push_back(failure);
    return false;
  }
  const uid_t caller = getuid();

  for (const Hook hook : AllHooks()) {
    const Row row =
        RunCase(sandbox, {hook, options, std::nullopt, kUser.uid, caller});
    ++results.driver_runs;
    if (row.judgement.verdict != Verdict::kPass) {
      results.problems.push_back("control " + std::string(HookName(hook)) +
                                 " with \"" + std::string(options.text) +
                                 "\" failed: " + Problems(row.judgement) +
                                 "\n" + row.details);
    }
  }

  for (const Hook hook : AllHooks()) {
    for (const Call& call : ModuleCalls()) {
      const long made =
          CountCalls(sandbox, {hook, options, std::nullopt, kUser.uid, caller},
                     call, results);
      for (const NamedErrno& error : KnownErrnos()) {
        // Every call, the first, and each later one the hook makes.
        for (long nth = kEveryCall; nth <= std::max(made, 1L); ++nth) {
          const Fault fault{call.name, error.value, nth};
          Record(results,
                 RunCase(sandbox, {hook, options, fault, kUser.uid, caller}));
          if (results.timeouts >= kMaxTimeouts) {
            results.problems.push_back("stopped after " +
                                       std::to_string(results.timeouts) +
                                       " runs timed out");
            return false;
          }
        }
      }
    }
  }
  return true;
}

// Leaves no key of the test user behind; returns what went wrong.
std::vector<std::string> CleanUp(Sandbox& sandbox) {
  std::vector<std::string> problems;
  if (std::string failure = ForgetPersistentKeyring(sandbox);
      !failure.empty()) {
    problems.push_back("could not forget the persistent keyring: " + failure);
  }
  // Leaving forgets the test user's user and user-session keyrings.
  if (std::string failure = sandbox.Leave(); !failure.empty()) {
    problems.push_back("leaving the sandbox: " + failure);
  }
  if (const int left = WaitForNoKeysOfUser(); left != 0) {
    problems.push_back("uid " + std::to_string(kUser.uid) + " still owns " +
                       std::to_string(left) + " keys");
  }
  return problems;
}

// Prints the table, the details of the first failures, the problems and,
// last, the summary. Returns the exit code.
int Report(const Results& results) {
  int passed = 0, not_reached = 0, failed = 0;
  PrintHeader();
  for (const Row& row : results.rows) {
    PrintRow(row);
    if (row.judgement.verdict == Verdict::kPass) ++passed;
    if (row.judgement.verdict == Verdict::kNotReached) ++not_reached;
    if (row.judgement.verdict == Verdict::kFail) ++failed;
  }

  int detailed = 0;
  for (const Row& row : results.rows) {
    if (row.judgement.verdict != Verdict::kFail) continue;
    if (detailed++ == kDetailedFailures) {
      std::cout << "\n(further failures only in their rows)\n";
      break;
    }
    const Fault& fault = *row.test_case.fault;
    std::cout << "\nFAILED: " << fault.call << " "
              << ErrnoName(fault.error_number) << " " << WhichName(fault.nth)
              << " in " << HookName(row.test_case.hook) << " with \""
              << row.test_case.options.text << "\": " << Problems(row.judgement)
              << "\n"
              << row.details;
  }
  for (const std::string& problem : results.problems) {
    std::cout << "\nPROBLEM: " << problem << "\n";
  }

  const auto seconds = [](Clock::duration duration) {
    return std::chrono::duration_cast<std::chrono::seconds>(duration).count();
  };
  std::cout << "\n"
            << results.driver_runs << " driver runs in " << seconds(results.ran)
            << " s, after " << seconds(results.waited)
            << " s waiting for the machine-wide test lock\n"
            << "rows failed " << failed << ", other problems "
            << results.problems.size() << "\n"
            << "pairs tried " << results.rows.size() << ", passed " << passed
            << ", not reached " << not_reached << std::endl;
  return failed == 0 && results.problems.empty() ? 0 : 1;
}

int Main() {
  for (const std::string& why :
       {Sandbox::WhyUnavailable(), WhySeccompUnavailable()}) {
    if (!why.empty()) {
      std::cout << "fault.table skipped: " << why << "\n";
      return kSkip;
    }
  }
  const Clock::time_point asked = Clock::now();
  if (std::string locked = testing::HoldMachineTestLock(); !locked.empty()) {
    std::cout << "fault.table: taking the machine-wide test lock: " << locked
              << "\n";
    return 1;
  }
  const Clock::time_point lock_held = Clock::now();

  Sandbox sandbox;
  if (std::string failure = sandbox.Enter({kUser}); !failure.empty()) {
    std::cout << "fault.table: could not build the sandbox: " << failure << "\n"
              << sandbox.Leave();
    return 1;
  }
  Results results;
  for (const OptionSet& options : kOptionSets) {
    if (!RunOptionSet(sandbox, options, results)) break;
  }
  for (std::string& problem : CleanUp(sandbox)) {
    results.problems.push_back(std::move(problem));
  }
  results.waited = lock_held - asked;
  results.ran = Clock::now() - lock_held;
  return Report(results);
}

}  // namespace
}  // namespace sessionkeyring::fault

int main() { return sessionkeyring::fault::Main(); }
