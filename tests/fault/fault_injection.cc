#include "fault_injection.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "thread_id_syscalls.h"

namespace sessionkeyring::fault {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "seccomp_fault knows the audit architecture of x86_64 and aarch64 only"
#endif

// In the order the fault table lists them: the ID calls the module makes
// around every switch, then the keyring calls in the order an open makes
// them.
constexpr std::array<Call, 12> kModuleCalls = {{
    {"getresuid", thread_ids::kGetresuid},
    {"getresgid", thread_ids::kGetresgid},
    {"setresgid", thread_ids::kSetresgid},
    {"setresuid", thread_ids::kSetresuid},
    {"keyctl:get_keyring_id", SYS_keyctl, KEYCTL_GET_KEYRING_ID},
    {"keyctl:describe", SYS_keyctl, KEYCTL_DESCRIBE},
    {"keyctl:join", SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING},
    {"keyctl:link", SYS_keyctl, KEYCTL_LINK},
    {"keyctl:get_persistent", SYS_keyctl, KEYCTL_GET_PERSISTENT},
    {"add_key", SYS_add_key},
    {"keyctl:revoke", SYS_keyctl, KEYCTL_REVOKE},
    {"keyctl:unlink", SYS_keyctl, KEYCTL_UNLINK},
}};

constexpr Call kAnyKeyctl = {"keyctl", SYS_keyctl};

constexpr std::array<NamedErrno, 9> kErrnos = {{
    {"EPERM", EPERM},
    {"EACCES", EACCES},
    {"EDQUOT", EDQUOT},
    {"ENOMEM", ENOMEM},
    {"EINVAL", EINVAL},
    {"EKEYREVOKED", EKEYREVOKED},
    {"ENOSYS", ENOSYS},
    // Not in the fault table, for seccomp_fault's other users.
    {"EAGAIN", EAGAIN},
    {"ENOKEY", ENOKEY},
}};

// The table's errnos are the first seven.
constexpr size_t kTableErrnos = 7;

}  // namespace

std::span<const Call> ModuleCalls() { return kModuleCalls; }

std::span<const NamedErrno> KnownErrnos() {
  return std::span<const NamedErrno>(kErrnos).first(kTableErrnos);
}

std::optional<Call> FindCall(std::string_view name) {
  if (name == kAnyKeyctl.name) return kAnyKeyctl;
  for (const Call& call : kModuleCalls) {
    if (call.name == name) return call;
  }
  return std::nullopt;
}

std::optional<int> FindErrno(std::string_view name) {
  for (const NamedErrno& entry : kErrnos) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

std::string ErrnoName(int error_number) {
  for (const NamedErrno& entry : kErrnos) {
    if (entry.value == error_number) return std::string(entry.name);
  }
  return "errno " + std::to_string(error_number);
}

bool Matches(const Call& call, const seccomp_data& data) {
  if (data.nr != call.syscall_number) return false;
  return call.keyctl_operation < 0 ||
         data.args[0] == static_cast<uint64_t>(call.keyctl_operation);
}

bool IsKeyringCall(const seccomp_data& data) {
  return data.nr == SYS_keyctl || data.nr == SYS_add_key ||
         data.nr == SYS_request_key;
}

std::vector<long> SyscallsToStop(const Call& call, bool keyring_calls) {
  std::vector<long> numbers = {call.syscall_number};
  if (keyring_calls) {
    for (const long number : {SYS_keyctl, SYS_add_key, SYS_request_key}) {
      if (number != call.syscall_number) numbers.push_back(number);
    }
  }
  return numbers;
}

int InstallFilter(const std::vector<long>& syscall_numbers) {
  std::vector<sock_filter> code = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
  };
  // Each test jumps over the tests after it and the ALLOW to the NOTIF.
  const size_t count = syscall_numbers.size();
  for (size_t i = 0; i < count; ++i) {
    code.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                            static_cast<uint32_t>(syscall_numbers[i]),
                            static_cast<uint8_t>(count - i), 0));
  }
  code.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  code.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));

  sock_fprog program{static_cast<unsigned short>(code.size()), code.data()};
  const long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                                SECCOMP_FILTER_FLAG_NEW_LISTENER, &program);
  return static_cast<int>(listener);
}

Listener::Listener(int fd) : fd_(fd) {
  seccomp_notif_sizes sizes{};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) return;
  // The kernel may know more fields than these headers.
  request_.resize(std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)));
  response_.resize(
      std::max<size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp)));
  ok_ = true;
}

Listener::~Listener() {
  if (fd_ >= 0) close(fd_);
}

const seccomp_notif* Listener::Receive(int timeout_ms, int wake_fd) {
  pollfd poll_fds[2] = {{fd_, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  if (poll(poll_fds, 2, timeout_ms) <= 0 ||
      (poll_fds[0].revents & POLLIN) == 0) {
    return nullptr;
  }
  auto* request = reinterpret_cast<seccomp_notif*>(request_.data());
  std::memset(request_.data(), 0, request_.size());
  if (ioctl(fd_, SECCOMP_IOCTL_NOTIF_RECV, request) != 0) return nullptr;
  return request;
}

void Listener::Fail(int error_number) { Send(-error_number, 0); }

void Listener::Continue() { Send(0, SECCOMP_USER_NOTIF_FLAG_CONTINUE); }

void Listener::Send(int error, uint32_t flags) {
  const auto* request = reinterpret_cast<const seccomp_notif*>(request_.data());
  auto* response = reinterpret_cast<seccomp_notif_resp*>(response_.data());
  std::memset(response_.data(), 0, response_.size());
  response->id = request->id;
  response->error = error;
  response->flags = flags;
  // ENOENT: the caller died meanwhile, and there is nothing to answer.
  ioctl(fd_, SECCOMP_IOCTL_NOTIF_SEND, response);
}

}  // namespace sessionkeyring::fault
