// pam_module_fuzzer: the whole module, from its pam_sm_* entry points to
// the real kernel, driven through a fake libpam (fake_pam.h).
//
// Each input is a small script, one command a line (unknown lines are
// skipped), so that seeds can be written by hand and crashes read as text:
//
//   user NAME            pam_get_user gives NAME: the rest of the line,
//                        any bytes (empty, non-UTF-8, numeric...)
//   user-repeat C N      ... the byte C repeated N times (N <= 131072)
//   user-null            ... success with a null name
//   user-fails CODE      pam_get_user fails with CODE
//   set-data ok|refuse   whether pam_set_data succeeds
//   open FLAGS ARG...    pam_sm_open_session
//   close FLAGS ARG...   pam_sm_close_session
//   setcred FLAGS ARG... pam_sm_setcred
//   auth FLAGS ARG...    pam_sm_authenticate
//   end STATUS           pam_end(STATUS); later lines use a new handle
//   fork-end STATUS      a forked child ends its copy of the handle with
//                        STATUS, as a server's child drops the parent's
//   fail CALL ERRNO [N]  the module's next call of CALL (add_key, describe,
//                        get_id, persistent, join, link, unlink, revoke or
//                        any), after N that succeed, fails with ERRNO
//                        (keyutils_faults.h)
//
// FLAGS, STATUS, CODE and ERRNO are terms joined by '|': numbers (decimal,
// or hex with 0x) or names (PAM_SILENT, PAM_DELETE_CRED, PAM_DATA_SILENT,
// EDQUOT...). ARGs are separated by single spaces, so that two spaces make
// an empty word; the word (null) is a null entry. The handle still open at
// the end of the script is ended with PAM_SUCCESS.
//
// Each input runs on a thread of its own, which takes its keyrings and IDs
// with it when it ends, so that one input cannot change what the next one
// starts from: every thread starts in the same root-owned "caller" session
// keyring. Besides what the sanitizers catch, and the log checks of the
// fake libpam, each call is checked for:
//   - the calling thread's six IDs and its filesystem IDs back to root's;
//   - a return code that the hook can return;
//   - after a successful open or setcred(ESTABLISH) for a known user,
//     without `allow_foreign` anywhere in the script and unless a fault
//     said the kernel has no keyrings (ENOSYS, EPERM): the thread is no
//     longer in the caller's keyring (fail closed);
//   - a forked child's pam_end leaves the parent's keyring unrevoked;
//   - the caller's keyring is never revoked.
//
// The process runs in a private user database (fuzz_users.h), so the
// module can reach only the test users, uids 64100 to 64109; at exit, their
// keyrings are forgotten again.

#include <keyutils.h>
#include <security/pam_modules.h>
#include <sys/fsuid.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fake_pam.h"
#include "fuzz_users.h"
#include "keyutils_faults.h"
#include "options.h"

namespace {

using sessionkeyring::fuzz::ArmFaults;
using sessionkeyring::fuzz::DisarmFaults;
using sessionkeyring::fuzz::FaultFired;
using sessionkeyring::fuzz::FuzzUser;
using sessionkeyring::fuzz::FuzzUsers;
using sessionkeyring::fuzz::KeyCall;

constexpr size_t kMaxRepeat = size_t{1} << 17;
// Enough for every interesting sequence, few enough that one input stays
// fast.
constexpr int kMaxCalls = 48;
constexpr int kMaxForks = 2;

// The session keyring every input's thread starts in, made at start-up.
key_serial_t caller_keyring = 0;

struct Name {
  std::string_view name;
  int value;
};

constexpr Name kNames[] = {
    {"PAM_SILENT", static_cast<int>(PAM_SILENT)},
    {"PAM_ESTABLISH_CRED", static_cast<int>(PAM_ESTABLISH_CRED)},
    {"PAM_DELETE_CRED", static_cast<int>(PAM_DELETE_CRED)},
    {"PAM_REINITIALIZE_CRED", static_cast<int>(PAM_REINITIALIZE_CRED)},
    {"PAM_REFRESH_CRED", static_cast<int>(PAM_REFRESH_CRED)},
    {"PAM_DATA_SILENT", PAM_DATA_SILENT},
    {"PAM_DATA_REPLACE", PAM_DATA_REPLACE},
    {"PAM_SUCCESS", PAM_SUCCESS},
    {"PAM_SYSTEM_ERR", PAM_SYSTEM_ERR},
    {"PAM_BUF_ERR", PAM_BUF_ERR},
    {"PAM_CONV_ERR", PAM_CONV_ERR},
    {"PAM_CONV_AGAIN", PAM_CONV_AGAIN},
    {"PAM_INCOMPLETE", PAM_INCOMPLETE},
    {"PAM_ABORT", PAM_ABORT},
    {"PAM_USER_UNKNOWN", PAM_USER_UNKNOWN},
    {"PAM_SESSION_ERR", PAM_SESSION_ERR},
    {"EDQUOT", EDQUOT},
    {"ENOMEM", ENOMEM},
    {"EPERM", EPERM},
    {"ENOSYS", ENOSYS},
    {"EACCES", EACCES},
    {"EINVAL", EINVAL},
    {"EINTR", EINTR},
    {"ENOENT", ENOENT},
    {"ENOKEY", ENOKEY},
    {"EKEYREVOKED", EKEYREVOKED},
    {"EKEYEXPIRED", EKEYEXPIRED},
};

[[noreturn]] void Fail(const std::string& what, const FakePamHandle* pamh) {
  std::fprintf(stderr, "pam_module_fuzzer: %s\n", what.c_str());
  if (pamh != nullptr) {
    std::fprintf(stderr, "lines the module logged on this handle:\n");
    for (const std::string& line : pamh->log) {
      std::fprintf(stderr, "  %s\n", line.c_str());
    }
  }
  std::abort();
}

// Cuts the text up to the next `separator` off the front of `text`.
std::string_view NextField(std::string_view& text, char separator) {
  const size_t at = text.find(separator);
  const std::string_view field = text.substr(0, at);
  text.remove_prefix(at == std::string_view::npos ? text.size() : at + 1);
  return field;
}

int ParseTerm(std::string_view term) {
  for (const Name& name : kNames) {
    if (term == name.name) return name.value;
  }
  int base = 10;
  bool negative = false;
  if (term.starts_with('-')) {
    negative = true;
    term.remove_prefix(1);
  }
  if (term.starts_with("0x")) {
    base = 16;
    term.remove_prefix(2);
  }
  uint32_t value = 0;
  std::from_chars(term.data(), term.data() + term.size(), value, base);
  return static_cast<int>(negative ? 0U - value : value);
}

int ParseTerms(std::string_view text) {
  unsigned value = 0;
  while (!text.empty()) {
    value |= static_cast<unsigned>(ParseTerm(NextField(text, '|')));
  }
  return static_cast<int>(value);
}

size_t ParseCount(std::string_view text) {
  size_t count = 0;
  std::from_chars(text.data(), text.data() + text.size(), count);
  return count;
}

// An argv as the module gets it, with the strings it points into.
class Arguments {
 public:
  // Words are separated by single spaces; without `words`, argv is empty.
  explicit Arguments(std::optional<std::string_view> words) {
    if (!words) return;
    std::string_view text = *words;
    for (;;) {
      const size_t space = text.find(' ');
      words_.emplace_back(text.substr(0, space));
      if (space == std::string_view::npos) break;
      text.remove_prefix(space + 1);
    }
    for (const std::string& word : words_) {
      argv_.push_back(word == "(null)" ? nullptr : word.c_str());
    }
  }

  int argc() const { return static_cast<int>(argv_.size()); }
  const char** argv() { return argv_.data(); }
  const std::vector<const char*>& entries() const { return argv_; }

 private:
  std::vector<std::string> words_;
  std::vector<const char*> argv_;
};

enum class Hook { kOpen, kClose, kSetcred, kAuthenticate };

bool Allowed(Hook hook, int flags, int code, const FakePamHandle& pamh) {
  // pam_get_user's own failure is passed through by open and by setcred
  // when it sets up credentials.
  const bool looks_up =
      hook == Hook::kOpen ||
      (hook == Hook::kSetcred &&
       (static_cast<unsigned>(flags) & PAM_ESTABLISH_CRED) != 0);
  if (looks_up && code == pamh.get_user_code) return true;
  switch (hook) {
    case Hook::kOpen:
      return code == PAM_SUCCESS || code == PAM_SESSION_ERR ||
             code == PAM_USER_UNKNOWN || code == PAM_BUF_ERR;
    case Hook::kClose:
      return code == PAM_SUCCESS;
    case Hook::kSetcred:
      return code == PAM_SUCCESS || code == PAM_IGNORE ||
             code == PAM_CRED_ERR || code == PAM_USER_UNKNOWN ||
             code == PAM_BUF_ERR;
    case Hook::kAuthenticate:
      return code == PAM_IGNORE;
  }
  return false;
}

// Whether the thread's IDs, all eight of them, are root's again.
bool IdsAreRoots() {
  uid_t ruid = 1, euid = 1, suid = 1;
  gid_t rgid = 1, egid = 1, sgid = 1;
  if (getresuid(&ruid, &euid, &suid) != 0 ||
      getresgid(&rgid, &egid, &sgid) != 0) {
    return false;
  }
  // An invalid ID changes nothing and returns the current one.
  const int fsuid = setfsuid(static_cast<uid_t>(-1));
  const int fsgid = setfsgid(static_cast<gid_t>(-1));
  return ruid == 0 && euid == 0 && suid == 0 && rgid == 0 && egid == 0 &&
         sgid == 0 && fsuid == 0 && fsgid == 0;
}

// The thread's session keyring, or -errno (a revoked one gives
// -EKEYREVOKED). Never makes one.
long CurrentSessionKeyring() {
  const key_serial_t serial =
      keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
  return serial >= 0 ? serial : -errno;
}

class Script {
 public:
  explicit Script(std::string_view text) : text_(text) { NewHandle(); }

  void Run() {
    std::string_view text = text_;
    while (!text.empty() && calls_ < kMaxCalls) {
      std::string_view line = NextField(text, '\n');
      const std::string_view command = NextField(line, ' ');
      Execute(command, line);
    }
    End(PAM_SUCCESS);
  }

 private:
  void NewHandle() {
    auto pamh = std::make_unique<FakePamHandle>();
    if (pamh_ != nullptr) {
      pamh->get_user_code = pamh_->get_user_code;
      pamh->user = pamh_->user;
      pamh->refuse_set_data = pamh_->refuse_set_data;
    }
    pamh_ = std::move(pamh);
  }

  void Execute(std::string_view command, std::string_view rest) {
    if (command == "user") {
      pamh_->get_user_code = PAM_SUCCESS;
      pamh_->user = std::string(rest);
    } else if (command == "user-repeat") {
      const std::string_view byte = NextField(rest, ' ');
      const size_t count = std::min(ParseCount(rest), kMaxRepeat);
      pamh_->get_user_code = PAM_SUCCESS;
      pamh_->user = std::string(count, byte.empty() ? 'a' : byte[0]);
    } else if (command == "user-null") {
      pamh_->get_user_code = PAM_SUCCESS;
      pamh_->user.reset();
    } else if (command == "user-fails") {
      pamh_->get_user_code = ParseTerms(rest);
    } else if (command == "set-data") {
      pamh_->refuse_set_data = rest == "refuse";
    } else if (command == "open") {
      Call(Hook::kOpen, rest);
    } else if (command == "close") {
      Call(Hook::kClose, rest);
    } else if (command == "setcred") {
      Call(Hook::kSetcred, rest);
    } else if (command == "auth") {
      Call(Hook::kAuthenticate, rest);
    } else if (command == "end") {
      ++calls_;
      End(ParseTerms(rest));
      NewHandle();
    } else if (command == "fork-end" && forks_ < kMaxForks) {
      ++calls_;
      ++forks_;
      ForkEnd(ParseTerms(rest));
    } else if (command == "fail") {
      const std::optional<KeyCall> call =
          sessionkeyring::fuzz::KeyCallNamed(NextField(rest, ' '));
      const int error_number = ParseTerms(NextField(rest, ' '));
      if (call && error_number > 0) {
        sessionkeyring::fuzz::ScheduleFault(
            *call, error_number, static_cast<unsigned>(ParseCount(rest)));
      }
    }
  }

  // pam_end, with the module's cleanup subject to faults like a hook.
  void End(int status) {
    ArmFaults();
    pamh_->End(status);
    DisarmFaults();
  }

  // Whether pam_get_user names one of the fuzz users.
  bool KnownUser() const {
    if (pamh_->get_user_code != PAM_SUCCESS || !pamh_->user) return false;
    // The module sees the name up to its first NUL.
    const std::string_view name = pamh_->user->c_str();
    for (const FuzzUser& user : FuzzUsers()) {
      if (user.name == name) return true;
    }
    return false;
  }

  void Call(Hook hook, std::string_view rest) {
    ++calls_;
    const size_t space = rest.find(' ');
    const int flags = ParseTerms(rest.substr(0, space));
    Arguments arguments(space == std::string_view::npos
                            ? std::nullopt
                            : std::optional(rest.substr(space + 1)));
    if (sessionkeyring::ParseOptions(arguments.entries())
            .options.allow_foreign) {
      allow_foreign_seen_ = true;
    }

    int code = 0;
    ArmFaults();
    switch (hook) {
      case Hook::kOpen:
        code = pam_sm_open_session(pamh_.get(), flags, arguments.argc(),
                                   arguments.argv());
        break;
      case Hook::kClose:
        code = pam_sm_close_session(pamh_.get(), flags, arguments.argc(),
                                    arguments.argv());
        break;
      case Hook::kSetcred:
        code = pam_sm_setcred(pamh_.get(), flags, arguments.argc(),
                              arguments.argv());
        break;
      case Hook::kAuthenticate:
        code = pam_sm_authenticate(pamh_.get(), flags, arguments.argc(),
                                   arguments.argv());
        break;
    }
    DisarmFaults();

    if (!IdsAreRoots()) {
      Fail("the thread's IDs are not root's after a hook", pamh_.get());
    }
    if (!Allowed(hook, flags, code, *pamh_)) {
      Fail("unexpected return code " + std::to_string(code), pamh_.get());
    }
    const bool sets_up =
        hook == Hook::kOpen ||
        (hook == Hook::kSetcred &&
         (static_cast<unsigned>(flags) & PAM_ESTABLISH_CRED) != 0);
    // With no keyring support at all there is nothing to isolate: the
    // module then goes on in the caller's keyring, by design.
    const bool no_keyrings = FaultFired(ENOSYS) || FaultFired(EPERM);
    if (sets_up && code == PAM_SUCCESS && KnownUser() && !allow_foreign_seen_ &&
        !no_keyrings && CurrentSessionKeyring() == caller_keyring) {
      Fail("a session for a user was left in the caller's keyring",
           pamh_.get());
    }
  }

  void ForkEnd(int status) {
    const long before = CurrentSessionKeyring();
    const pid_t pid = fork();
    if (pid < 0) return;  // nothing to check
    if (pid == 0) {
      End(status);
      _exit(0);
    }
    int wait_status = 0;
    if (waitpid(pid, &wait_status, 0) != pid || !WIFEXITED(wait_status) ||
        WEXITSTATUS(wait_status) != 0) {
      Fail("the forked child's pam_end failed (wait status " +
               std::to_string(wait_status) + ")",
           pamh_.get());
    }
    if (before >= 0 && CurrentSessionKeyring() != before) {
      Fail("a forked child's pam_end revoked the parent's keyring",
           pamh_.get());
    }
  }

  std::string_view text_;
  std::unique_ptr<FakePamHandle> pamh_;
  int calls_ = 0;
  int forks_ = 0;
  bool allow_foreign_seen_ = false;
};

void ForgetAtExit() {
  // libFuzzer's per-input timeout is a periodic SIGALRM, which would cut
  // short the waits for the children that forget the keyrings.
  const itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  const std::string left = sessionkeyring::fuzz::ForgetFuzzUsersKeys();
  if (!left.empty()) {
    std::fprintf(stderr, "pam_module_fuzzer: keys left behind:\n%s",
                 left.c_str());
    _exit(1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  const std::string error = sessionkeyring::fuzz::EnterPrivateUserDatabase();
  if (!error.empty()) {
    std::fprintf(stderr, "pam_module_fuzzer: cannot run: %s\n", error.c_str());
    std::exit(1);
  }
  // A root-owned anonymous keyring, as a service has; inherited by each
  // input's thread.
  caller_keyring = keyctl_join_session_keyring(nullptr);
  if (caller_keyring < 0) {
    std::fprintf(stderr, "pam_module_fuzzer: cannot join a keyring: %s\n",
                 std::strerror(errno));
    std::exit(1);
  }
  std::atexit(ForgetAtExit);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::thread worker([text] { Script(text).Run(); });
  worker.join();

  if (CurrentSessionKeyring() != caller_keyring) {
    Fail("the caller's keyring was revoked or replaced", nullptr);
  }
  if (!IdsAreRoots()) Fail("the main thread's IDs changed", nullptr);
  return 0;
}
