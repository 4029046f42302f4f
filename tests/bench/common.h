// What the benchmarks share: flags, statistics, child processes, PAM
// handles and raw keyring calls.
//
// Every measurement that opens a session runs in a forked child. A session
// changes the calling thread's session keyring (and pam_keyinit keeps its
// state in the loaded module), so a measurement done in the driver itself
// would hand the next one a revoked keyring or a stale module record.

#ifndef SESSIONKEYRING_TESTS_BENCH_COMMON_H_
#define SESSIONKEYRING_TESTS_BENCH_COMMON_H_

#include <security/pam_appl.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sessionkeyring::bench {

using Clock = std::chrono::steady_clock;

inline double MicrosBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

// Prints "session_bench: <message>" on stderr and exits with status 2: a
// benchmark whose setup fails has nothing to report.
[[noreturn]] void Die(const std::string& message);

// "--name value" arguments. A missing flag takes the default given; a
// malformed one ends the program through Die().
class Flags {
 public:
  Flags(int argc, char** argv);

  std::string String(const std::string& name,
                     const std::string& fallback = "") const;
  long Integer(const std::string& name, long fallback) const;
  // "a,b,c"
  std::vector<std::string> List(const std::string& name) const;
  // "1,2,8"
  std::vector<long> Integers(const std::string& name) const;
  // "label=value,label=value", in the order given.
  std::vector<std::pair<std::string, std::string>> Pairs(
      const std::string& name) const;

 private:
  std::map<std::string, std::string> values_;
};

double Median(std::vector<double> values);
// Linear interpolation between the closest ranks; q in [0, 1].
double Quantile(std::vector<double> values, double q);
double Mean(const std::vector<double>& values);

// Runs `body` in a forked child that is killed if the driver dies. The
// child writes its result to the descriptor it is given and returns its
// exit status. Returns what the child wrote; `ok` is false if it did not
// exit with 0 (`data` then holds its message).
struct ChildResult {
  bool ok = false;
  std::string data;
  int wait_status = 0;
};
ChildResult RunInChild(const std::function<int(int fd)>& body);
// Reads what child `pid` writes to `read_fd` until end of file, closes the
// descriptor and waits for the child; `ok` if it exited with 0.
ChildResult CollectChild(pid_t pid, int read_fd);

// Writes all of `size` bytes, retrying short writes; false on error.
bool WriteAll(int fd, const void* data, size_t size);
bool WriteAll(int fd, const std::string& text);
// Reads until end of file.
std::string ReadAll(int fd);

// Doubles through a pipe, as raw bytes: both ends are the same binary.
std::string Encode(const std::vector<double>& values);
std::vector<double> Decode(const std::string& bytes);

// A conversation that answers nothing: every benchmark sets the user, so
// no module should ever prompt.
const pam_conv* NoConversation();

// pam_start_confdir() with NoConversation(). On failure returns null and
// says why in `error`.
pam_handle_t* StartPam(const std::string& confdir, const std::string& service,
                       const std::string& user, std::string& error);

// One `pamtester SERVICE USER open_session close_session` process, with
// its standard streams on /dev/null: its wall time from spawn to exit and
// the CPU time it used (user and system). Returns an error message, or "".
struct PamtesterRun {
  double micros = 0;
  double cpu_micros = 0;
};
std::string RunPamtester(const std::string& service, const std::string& user,
                         PamtesterRun& run);

// The peak resident set of one such pamtester process, in KB, in `kb`.
// Not from RunPamtester: posix_spawn runs the child in the driver's own
// memory until the exec, and the kernel counts that memory into the
// child's peak, so every figure would be at least the driver's size. This
// child is forked and keeps only the driver's written pages, far fewer
// than pamtester touches. Returns an error message, or "".
std::string PamtesterPeakRss(const std::string& service,
                             const std::string& user, double& kb);

// keyctl(2) as a raw system call, so that the driver maps no
// libkeyutils.so of its own (see footprint.cc).
long Keyctl(int operation, unsigned long a = 0, unsigned long b = 0,
            unsigned long c = 0);
// Widens a key serial or special ID to a system call argument.
unsigned long KeyArg(long value);

// One user's line of /proc/key-users.
struct KeyUsage {
  long total = 0;  // every key the user owns, charged or not
  long keys = 0;   // charged to the quota

  long max_keys = 0;
  long bytes = 0;
  long max_bytes = 0;
};
// All zero if the user owns no keys (and has no line).
KeyUsage KeyUsageOf(uid_t uid);

// The owner uid of a key, from KEYCTL_DESCRIBE; -1 if it cannot be read.
long KeyOwner(long serial);

// The passwd entry of `name`; dies if there is none.
struct UserIds {
  uid_t uid = 0;
  gid_t gid = 0;
};
UserIds LookUpUser(const std::string& name);

// Appends one line to the file named by --summary, which tests/bench/run
// prints at the end of the report with every target's verdict.
void AddToSummary(const Flags& flags, const std::string& line);

// printf into a std::string.
std::string Format(const char* format, ...)
    __attribute__((format(printf, 1, 2)));

}  // namespace sessionkeyring::bench

#endif  // SESSIONKEYRING_TESTS_BENCH_COMMON_H_
