// A stand-in for the libpam functions the module calls, so that a fuzz
// target can link the module's sources and call its entry points in-process
// with the user, libpam's refusals and the end of the transaction under its
// control.
//
// The module sees only `pam_handle_t*`; here that is a FakePamHandle. Like
// libpam, the handle owns what the module stores with pam_set_data() and
// hands it back to the module's cleanup callback when it ends. Every line
// the module logs is checked as it is logged: it must be plain printable
// ASCII of a bounded length (text from outside, user names and arguments,
// must arrive quoted and cut), and it must not be at LOG_CRIT or above,
// which the module uses only for an exception or an internal error. A line
// that breaks either rule aborts, so that the fuzzer reports it with the
// stack of the call that logged it. With FUZZ_PRINT_LOG set in the
// environment, each line is also printed on stderr.

#ifndef SESSIONKEYRING_TESTS_FUZZ_TARGETS_FAKE_PAM_H_
#define SESSIONKEYRING_TESTS_FUZZ_TARGETS_FAKE_PAM_H_

#include <security/pam_modules.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

// libpam's own name for the handle type; the module only passes pointers.
struct pam_handle {
  // pam_set_data() entries, in the order they were first stored.
  struct Data {
    std::string name;
    void* data = nullptr;
    void (*cleanup)(pam_handle* pamh, void* data, int status) = nullptr;
  };

  // What pam_get_user() answers: the code, and with PAM_SUCCESS the name
  // (nullopt hands the module a null name with success).
  int get_user_code = PAM_SUCCESS;
  std::optional<std::string> user;

  // Whether pam_set_data() fails, as libpam does when it cannot allocate.
  bool refuse_set_data = false;

  std::vector<Data> data;
  // Lines logged through pam_syslog(), for a failure message.
  std::vector<std::string> log;
  // Set while End() runs the cleanups: the module must not store data then.
  bool ending = false;

  pam_handle() = default;
  pam_handle(const pam_handle&) = delete;
  pam_handle& operator=(const pam_handle&) = delete;
  // Ends the transaction with PAM_SUCCESS if End() was not called.
  ~pam_handle();

  // As pam_end(): calls each entry's cleanup with `status`, most recently
  // stored first, and forgets them all.
  void End(int status);
};

using FakePamHandle = pam_handle;

namespace sessionkeyring::fuzz {

// The longest line the module may log. A line quotes at most a few outside
// words, each cut to 64 bytes and escaped to at most four characters per
// byte.
inline constexpr size_t kMaxLogLineLength = 1024;

}  // namespace sessionkeyring::fuzz

#endif  // SESSIONKEYRING_TESTS_FUZZ_TARGETS_FAKE_PAM_H_
