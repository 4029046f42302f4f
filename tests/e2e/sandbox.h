// A private world for the end-to-end tests: a mount namespace in which the
// test process owns /etc/pam.d, /etc/passwd, /etc/group, /etc/shadow and
// /dev/log.
//
// Real PAM clients (pamtester, runuser) read their service files and users
// from /etc and log through syslog(3) to /dev/log. Bind-mounting copies of
// those files, with test users appended, inside a namespace that only this
// process and its children see lets the tests run real clients against test
// stacks without changing the host, and lets them read every line a module
// logs. Leaving the namespace (or the process ending) makes every mount
// disappear; nothing is ever written to the real /etc.

#ifndef SESSIONKEYRING_TESTS_E2E_SANDBOX_H_
#define SESSIONKEYRING_TESTS_E2E_SANDBOX_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sessionkeyring::e2e {

// A user that exists only inside the sandbox's passwd and group files, with
// a group of the same number and a home directory inside the sandbox.
struct TestUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// One message a process sent to /dev/log, taken apart. syslog(3) sends
// "<priority>Mmm dd hh:mm:ss program: text", and pam_syslog() starts the
// text with "module(service:type): ".
struct LogLine {
  int severity = 0;     // LOG_EMERG (0) to LOG_DEBUG (7)
  std::string program;  // the syslog ident, e.g. "pamtester"
  std::string module;   // "pam_keyinit" in "pam_keyinit(svc:session)", or ""
  std::string text;     // the message, without the module prefix
  std::string raw;      // the whole datagram, for failure messages
};

// Parses one datagram; unknown shapes keep only `raw` and the severity.
LogLine ParseLogLine(std::string_view datagram);

// For GoogleTest's failure messages.
void PrintTo(const LogLine& line, std::ostream* out);

// What a finished command left behind.
struct RunResult {
  int exit_code = -1;  // 128 + the signal number if a signal ended it
  bool timed_out = false;
  std::string out;
  std::string err;
  std::vector<LogLine> log;  // every line sent to /dev/log while it ran
};

// Everything about a run, for failure messages.
std::string Describe(const RunResult& result);

// Runs in the forked child just before exec, for example to give the
// command a particular session keyring. Returns an error message, or an
// empty string to go on.
using ChildSetup = std::function<std::string()>;

class Sandbox {
 public:
  static constexpr std::chrono::seconds kDefaultTimeout{20};
  // Exit code of a child whose ChildSetup failed (it prints why on stderr).
  static constexpr int kSetupFailedExitCode = 125;

  Sandbox() = default;
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;
  ~Sandbox();

  // Why this machine cannot host the sandbox (not root, no mount
  // namespaces), or an empty string if it can. Tests skip on a reason.
  static std::string WhyUnavailable();

  // Moves the calling process into a new private mount namespace and builds
  // the sandbox there. The process must be single-threaded. Returns an
  // error message, or an empty string on success.
  [[nodiscard]] std::string Enter(const std::vector<TestUser>& users);

  // Unmounts everything, returns to the original mount namespace, checks
  // that the real /etc files are unchanged, removes the temporary directory
  // and invalidates the test users' keyrings. Returns every problem found,
  // or an empty string.
  [[nodiscard]] std::string Leave();

  // Writes /etc/pam.d/<name> as the sandbox sees it.
  [[nodiscard]] std::string WriteService(std::string_view name,
                                         std::string_view text);

  // Copies a script into the sandbox's directory, executable by everyone,
  // and returns its path there (empty if it could not be copied).
  std::filesystem::path InstallScript(const std::filesystem::path& source);

  // Hides the real file at `path` behind a file of the sandbox's holding
  // `text`, with the real file's owner and mode, so that clients read that
  // text and write only to the sandbox's copy (sudo reads /etc/sudoers,
  // login appends to /var/log/wtmp). Hiding a file again replaces its text.
  // The real file must exist. Leave() checks that one under /etc did not
  // change; logs, which every real login appends to, are not compared.
  [[nodiscard]] std::string Hide(const std::filesystem::path& path,
                                 std::string_view text);

  // Runs argv (searched in PATH) in a new process group with stdin on
  // /dev/null and LC_ALL=C, collects its output and log lines, and kills
  // the whole group when it ends or overstays `timeout`.
  RunResult Run(const std::vector<std::string>& argv,
                const ChildSetup& setup = {},
                std::chrono::milliseconds timeout = kDefaultTimeout);

  // Starts argv as Run() does, for a server, but does not wait for it: its
  // stdout and stderr go to the file `output`, and the log lines it sends
  // while a Run() is in progress are that run's. Returns its pid, which is
  // also its process group, or -1 with errno set. The caller must end and
  // reap it.
  pid_t Start(const std::vector<std::string>& argv, const ChildSetup& setup,
              const std::filesystem::path& output);

  // Starts every command of Run() and Start() as `launcher` followed by the
  // command's argv, so that a memory checker can wrap the programs that
  // load the module (tools/memcheck/launch decides which, and how). Empty,
  // the default: commands run as they are.
  void set_launcher(std::vector<std::string> launcher) {
    launcher_ = std::move(launcher);
  }

  // Invalidates the user keyrings (_uid.<uid>, _uid_ses.<uid>) of every
  // test user, so that no key made by a test outlives it.
  [[nodiscard]] std::string ForgetUserKeyrings();

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path HomeOf(const TestUser& user) const;

 private:
  [[nodiscard]] std::string WriteUsers();
  [[nodiscard]] std::string BindOverEtc();
  [[nodiscard]] std::string HideShadow();
  [[nodiscard]] std::string BuildDev();
  [[nodiscard]] std::string Mount(const std::filesystem::path& source,
                                  const std::filesystem::path& target,
                                  const char* type, unsigned long flags,
                                  const char* data = nullptr);
  void DrainLog(std::vector<LogLine>& into);
  std::vector<std::string> Launched(const std::vector<std::string>& argv) const;

  std::vector<TestUser> users_;
  std::filesystem::path dir_;
  // Mount points made inside the namespace, in the order they were made.
  std::vector<std::filesystem::path> mounts_;
  // The real /etc files the sandbox hides, as they were before it started.
  std::map<std::string, std::string> etc_before_;
  // The real files Hide() hides and, for those Leave() checks, their
  // contents before.
  std::map<std::filesystem::path, std::optional<std::string>> hidden_;
  std::vector<std::string> launcher_;
  int original_namespace_fd_ = -1;
  int log_fd_ = -1;
};

}  // namespace sessionkeyring::e2e

#endif  // SESSIONKEYRING_TESTS_E2E_SANDBOX_H_
