// Forgetting the bench users' keyrings.
//
// The kernel keeps a user's user keyring (_uid.<uid>) and user-session
// keyring (_uid_ses.<uid>) after the user's last process has gone, so a
// benchmark that opens sessions for a user leaves them charged to that
// user. A child that becomes the user resolves both first (once one is
// invalidated, resolving the other by its special ID would create a new
// one), links them into a fresh session keyring so that it possesses
// them, and invalidates both by serial. The bench users' gid equals their
// uid (tests/bench/run makes them so), which lets this run outside the
// namespace where they exist.

#include <errno.h>
#include <linux/keyctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "benchmarks.h"

namespace sessionkeyring::bench {
namespace {

// Exits with the number of the step that failed, 0 if none did.
[[noreturn]] void InvalidateAs(uid_t uid) {
  if (setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0) {
    _exit(2);
  }
  const long user =
      Keyctl(KEYCTL_GET_KEYRING_ID, KeyArg(KEY_SPEC_USER_KEYRING));
  const long user_session =
      Keyctl(KEYCTL_GET_KEYRING_ID, KeyArg(KEY_SPEC_USER_SESSION_KEYRING));
  if (user < 0 || user_session < 0) _exit(3);
  // Possession is a convenience only (the owner may invalidate its own
  // user keyrings), so a join refused by a full quota does not matter.
  const long fresh = Keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0);
  if (fresh >= 0) {
    Keyctl(KEYCTL_LINK, KeyArg(user), KeyArg(fresh));
    Keyctl(KEYCTL_LINK, KeyArg(user_session), KeyArg(fresh));
  }
  if (Keyctl(KEYCTL_INVALIDATE, KeyArg(user_session)) != 0 ||
      Keyctl(KEYCTL_INVALIDATE, KeyArg(user)) != 0) {
    _exit(4);
  }
  _exit(0);
}

}  // namespace

int RunForget(const Flags& flags) {
  const long timeout_ms = flags.Integer("timeout-ms", 10000);
  int problems = 0;
  for (const long number : flags.Integers("uids")) {
    const auto uid = static_cast<uid_t>(number);
    if (KeyUsageOf(uid).total == 0) continue;

    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0) Die("fork failed");
    if (pid == 0) InvalidateAs(uid);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::printf("forget: uid %u: invalidating failed (wait status %d)\n", uid,
                  status);
      ++problems;
      continue;
    }

    // The kernel's garbage collector destroys the keys soon after;
    // closed sessions' keyrings go once their last reference has.
    const Clock::time_point start = Clock::now();
    while (KeyUsageOf(uid).total > 0 &&
           MicrosBetween(start, Clock::now()) <
               1000.0 * static_cast<double>(timeout_ms)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (const long left = KeyUsageOf(uid).total; left > 0) {
      std::printf("forget: uid %u still owns %ld keys\n", uid, left);
      ++problems;
    }
  }
  return problems == 0 ? 0 : 1;
}

}  // namespace sessionkeyring::bench
