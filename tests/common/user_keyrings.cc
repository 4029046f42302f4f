#include "user_keyrings.h"

#include <keyutils.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace sessionkeyring::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kCollectionTimeout{5};

// Runs in a child that becomes the user entirely: the owner may invalidate
// its user keyrings, root may not. Both are resolved before either is
// invalidated, because once one is gone, resolving the other by its
// special ID fails. Exits with the number of the step that failed.
[[noreturn]] void InvalidateAs(uid_t uid, gid_t gid) {
  if (setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
    _exit(2);
  }
  const key_serial_t user = keyctl_get_keyring_ID(KEY_SPEC_USER_KEYRING, 0);
  const key_serial_t user_session =
      keyctl_get_keyring_ID(KEY_SPEC_USER_SESSION_KEYRING, 0);
  if (user < 0 || user_session < 0) _exit(3);
  const int keys_before = KeysOwnedBy(uid);
  if (keyctl_invalidate(user_session) < 0 || keyctl_invalidate(user) < 0) {
    _exit(4);
  }
  const Clock::time_point deadline = Clock::now() + kCollectionTimeout;
  while (KeysOwnedBy(uid) > keys_before - 2) {
    if (Clock::now() >= deadline) _exit(5);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  _exit(0);
}

}  // namespace

int KeysOwnedBy(uid_t uid) {
  // Lines read "<uid>: <usage> <keys>/<instantiated> ...".
  std::ifstream in("/proc/key-users");
  const std::string owner = std::to_string(uid) + ":";
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string field;
    int usage = 0;
    int keys = 0;
    if (fields >> field && field == owner && fields >> usage >> keys) {
      return keys;
    }
  }
  return 0;
}

std::string ForgetUserKeyrings(uid_t uid, gid_t gid) {
  const pid_t pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) InvalidateAs(uid, gid);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return "waitpid failed";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  return "could not invalidate the keyrings of uid " + std::to_string(uid) +
         " (wait status " + std::to_string(status) + ")";
}

}  // namespace sessionkeyring::testing
