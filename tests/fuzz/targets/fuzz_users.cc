#include "fuzz_users.h"

#include <fcntl.h>
#include <keyutils.h>
#include <pwd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <string_view>
#include <thread>

#include "user_keyrings.h"

namespace sessionkeyring::fuzz {
namespace {

using Clock = std::chrono::steady_clock;

// The kernel's key garbage collector frees a keyring shortly after its last
// reference goes; this is far more than it needs.
constexpr std::chrono::seconds kCollectionTimeout{10};

// Users whose gid has a line in the private group file.
constexpr uid_t kWithGroupLine[] = {64100, 64107, 64108, 64109};

std::string ErrnoMessage(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

[[nodiscard]] std::string WriteFile(const std::string& path,
                                    std::string_view text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                      S_IRUSR | S_IWUSR | S_IRGRP | S_IROTH);
  if (fd < 0) return ErrnoMessage("create " + path);
  while (!text.empty()) {
    const ssize_t written = write(fd, text.data(), text.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      const std::string error = ErrnoMessage("write " + path);
      close(fd);
      return error;
    }
    text.remove_prefix(static_cast<size_t>(written));
  }
  if (close(fd) != 0) return ErrnoMessage("close " + path);
  return {};
}

std::string PasswdText() {
  std::string text;
  for (const FuzzUser& user : FuzzUsers()) {
    // The last user's entry is bigger than the module's first getpwnam_r
    // buffer (1 KiB), so that the lookup has to grow it.
    const std::string gecos =
        user.uid == 64109 ? std::string(3000, 'g') : "fuzz user";
    text += user.name + ":x:" + std::to_string(user.uid) + ":" +
            std::to_string(user.gid) + ":" + gecos +
            ":/nonexistent:" + "/usr/sbin/nologin\n";
  }
  return text;
}

std::string GroupText() {
  std::string text;
  for (const FuzzUser& user : FuzzUsers()) {
    if (std::find(std::begin(kWithGroupLine), std::end(kWithGroupLine),
                  user.uid) != std::end(kWithGroupLine)) {
      text += "fuzz" + std::to_string(user.gid) +
              ":x:" + std::to_string(user.gid) + ":\n";
    }
  }
  return text;
}

// Writes `text` to a file in `dir` and binds it over `target`. The file is
// unlinked at once: the mount keeps it alive for as long as the namespace.
[[nodiscard]] std::string BindText(const std::string& dir,
                                   const std::string& target,
                                   std::string_view text) {
  const std::string source = dir + target.substr(target.rfind('/'));
  if (std::string error = WriteFile(source, text); !error.empty()) {
    return error;
  }
  const int mounted =
      mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr);
  const std::string error =
      mounted == 0 ? std::string() : ErrnoMessage("bind over " + target);
  unlink(source.c_str());
  return error;
}

std::string BindFiles() {
  char dir[] = "/tmp/skr-fuzz.XXXXXX";
  if (mkdtemp(dir) == nullptr) return ErrnoMessage("mkdtemp");
  std::string error = BindText(dir, "/etc/passwd", PasswdText());
  if (error.empty()) error = BindText(dir, "/etc/group", GroupText());
  if (error.empty() && access("/etc/nsswitch.conf", F_OK) == 0) {
    error = BindText(dir, "/etc/nsswitch.conf",
                     "passwd: files\ngroup: files\nshadow: files\n");
  }
  rmdir(dir);
  return error;
}

// Checks what glibc now answers: each fuzz user, and no one else.
std::string CheckUserDatabase() {
  for (const FuzzUser& user : FuzzUsers()) {
    const passwd* entry = getpwnam(user.name.c_str());
    if (entry == nullptr || entry->pw_uid != user.uid ||
        entry->pw_gid != user.gid) {
      return "the private passwd file does not give " + user.name;
    }
  }
  for (const char* name : {"root", "nobody", "daemon"}) {
    if (getpwnam(name) != nullptr) {
      return std::string("user ") + name + " is still known";
    }
  }
  if (getpwuid(0) != nullptr) return "uid 0 is still known";
  return {};
}

// The persistent keyring outlives every process of its user by days
// (kernel.keys.persistent_keyring_expiry). Root may fetch any user's into
// a throwaway session keyring of a child, and possessing it there lets it
// be invalidated.
std::string ForgetPersistentKeyring(uid_t uid) {
  const pid_t pid = fork();
  if (pid < 0) return ErrnoMessage("fork");
  if (pid == 0) {
    if (keyctl_join_session_keyring(nullptr) < 0) _exit(2);
    const long persistent =
        keyctl_get_persistent(uid, KEY_SPEC_SESSION_KEYRING);
    if (persistent < 0) _exit(errno == EOPNOTSUPP ? 0 : 3);
    if (keyctl_invalidate(static_cast<key_serial_t>(persistent)) < 0) {
      _exit(4);
    }
    _exit(0);
  }
  int status = 0;
  pid_t waited = 0;
  while ((waited = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (waited != pid) return ErrnoMessage("waitpid");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  return "could not invalidate the persistent keyring of uid " +
         std::to_string(uid) + " (wait status " + std::to_string(status) + ")";
}

}  // namespace

const std::vector<FuzzUser>& FuzzUsers() {
  static const std::vector<FuzzUser>* const users = new std::vector<FuzzUser>{
      {"fz-alice", 64100, 64100},
      {"fz-nogroup", 64101, 64150},
      {"fz-overflow", 64102, 65534},
      {"fz-gid2p31", 64103, 2147483648U},
      {"fz-gidmax", 64104, 4294967294U},
      {"fz-gidinvalid", 64105, 4294967295U},
      {"fz-rootgroup", 64106, 0},
      {"64100", 64107, 64107},
      {"0day", 64108, 64108},
      {"fz-long-" + std::string(192, 'n'), 64109, 64109},
  };
  return *users;
}

std::string EnterPrivateUserDatabase() {
  if (geteuid() != 0) return "needs root";
  if (unshare(CLONE_NEWNS) != 0) return ErrnoMessage("unshare");
  // Without this the mounts below would propagate back to the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return ErrnoMessage("make / private");
  }
  if (std::string error = BindFiles(); !error.empty()) return error;
  // glibc asks a running nscd before reading any file.
  struct stat nscd {};
  if (stat("/run/nscd", &nscd) == 0 && S_ISDIR(nscd.st_mode) &&
      mount("tmpfs", "/run/nscd", "tmpfs", 0, "size=4k") != 0) {
    return ErrnoMessage("hide /run/nscd");
  }
  return CheckUserDatabase();
}

std::string ForgetFuzzUsersKeys() {
  std::string problems;
  for (const FuzzUser& user : FuzzUsers()) {
    std::string problem = ForgetPersistentKeyring(user.uid);
    if (problem.empty()) {
      problem = sessionkeyring::testing::ForgetUserKeyrings(user.uid, user.gid);
    }
    if (!problem.empty()) problems += problem + "\n";
  }

  const Clock::time_point deadline = Clock::now() + kCollectionTimeout;
  for (;;) {
    std::string left;
    for (const FuzzUser& user : FuzzUsers()) {
      if (const int keys = sessionkeyring::testing::KeysOwnedBy(user.uid)) {
        left += "uid " + std::to_string(user.uid) + " still owns " +
                std::to_string(keys) + " key(s)\n";
      }
    }
    if (left.empty()) return problems;
    if (Clock::now() >= deadline) return problems + left;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace sessionkeyring::fuzz
