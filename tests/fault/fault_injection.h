// What seccomp_fault and the fault table's PAM driver share: the names of
// the calls they can make fail and of the errnos they fail them with, the
// seccomp filter that hands those calls to a supervisor, and the
// supervisor's side of the conversation with the kernel.
//
// The filter answers SECCOMP_RET_USER_NOTIF for the chosen system calls, so
// each one waits until a supervisor (another process, or a thread that
// existed before the filter was installed) either fails it with an errno or
// lets the kernel carry it out. keyctl operations are told apart by the
// supervisor, from the call's first argument.

#ifndef SESSIONKEYRING_TESTS_FAULT_FAULT_INJECTION_H_
#define SESSIONKEYRING_TESTS_FAULT_FAULT_INJECTION_H_

#include <linux/seccomp.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sessionkeyring::fault {

// A call a fault can target: a system call, or one operation of keyctl(2).
struct Call {
  std::string_view name;  // "setresuid", "add_key", "keyctl:join"
  long syscall_number = -1;
  int keyctl_operation = -1;  // -1: every call of syscall_number
};

struct NamedErrno {
  std::string_view name;  // "EDQUOT"
  int value = 0;
};

// Every call the module makes that a fault can target: the per-thread ID
// calls, add_key, and each keyctl operation of lib/keyrings.cc, in the
// order the fault table lists them. "keyctl" alone, which matches every
// keyctl operation, is not among them but FindCall() knows it.
std::span<const Call> ModuleCalls();

// The errnos a fault can give, in the order the fault table lists them.
std::span<const NamedErrno> KnownErrnos();

std::optional<Call> FindCall(std::string_view name);
std::optional<int> FindErrno(std::string_view name);
// "EDQUOT" for a known errno, "errno 122" otherwise.
std::string ErrnoName(int error_number);

// Whether a stopped call is `call`.
bool Matches(const Call& call, const seccomp_data& data);
// Whether a stopped call asks the kernel about keyrings (keyctl, add_key,
// request_key): the first one of a PAM hook is the one that tells the
// module whether the kernel has keyrings at all.
bool IsKeyringCall(const seccomp_data& data);

// Installs on the calling thread, and on every thread and process it starts
// afterwards, a filter that stops each call to one of `syscall_numbers` and
// hands it to the returned listener; every other call runs. Threads that
// already exist are not filtered. Needs CAP_SYS_ADMIN or no_new_privs.
// Returns the listener, or -1 with errno set.
int InstallFilter(const std::vector<long>& syscall_numbers);

// The system calls a filter for `call` must stop; with `keyring_calls`,
// also every keyring call, so that a supervisor can tell which one came
// first.
std::vector<long> SyscallsToStop(const Call& call, bool keyring_calls);

// The supervisor's end of a listener. Every buffer is allocated by the
// constructor: a supervisor thread inside the process it supervises must
// never wait for a lock (malloc's, stdio's) that the stopped thread may
// hold.
class Listener {
 public:
  // Takes ownership of `fd`.
  explicit Listener(int fd);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  // False if the kernel's notification sizes could not be read.
  bool ok() const { return ok_; }

  // Waits up to `timeout_ms` (-1: for ever) for a stopped call; nullptr if
  // none came, the call's thread died before it could be received, or
  // `wake_fd` (if not -1) became readable.
  const seccomp_notif* Receive(int timeout_ms, int wake_fd = -1);
  // Answers the call Receive() returned: fail it with `error_number`, or
  // let it run. A thread that died meanwhile needs no answer.
  void Fail(int error_number);
  void Continue();

 private:
  void Send(int error_number, uint32_t flags);

  int fd_;
  bool ok_ = false;
  std::vector<char> request_;
  std::vector<char> response_;
};

}  // namespace sessionkeyring::fault

#endif  // SESSIONKEYRING_TESTS_FAULT_FAULT_INJECTION_H_
