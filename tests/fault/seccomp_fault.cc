// seccomp_fault: runs a command with one system call made to fail.
//
//   seccomp_fault [--nth N] CALL ERRNO -- COMMAND [ARG...]
//
// CALL is setresuid, setresgid, getresuid, getresgid, add_key, keyctl (any
// keyctl operation) or keyctl:OP where OP is one of the keyctl operations
// the module uses (get_keyring_id, describe, join, link, unlink, revoke,
// get_persistent). ERRNO is a name such as EPERM or EDQUOT. With --nth N
// only the Nth matching call fails and the others run normally; without it
// every matching call fails.
//
// The command runs under a seccomp filter that hands each matching call to
// this process (SECCOMP_RET_USER_NOTIF), which counts it and answers
// either with the error or by letting the kernel carry it out. The exit
// status is the command's; the last line on stderr says how many matching
// calls there were and whether one was failed.

#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "fault_injection.h"

namespace sessionkeyring::fault {
namespace {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "seccomp_fault: %s\n", message.c_str());
  std::exit(125);
}

struct Plan {
  Call call;
  int error_number = 0;
  long nth = 0;  // 0: every matching call
  char** command = nullptr;
};

Plan ParseArguments(int argc, char** argv) {
  Plan plan;
  int index = 1;
  if (index + 1 < argc && std::string_view(argv[index]) == "--nth") {
    plan.nth = std::strtol(argv[index + 1], nullptr, 10);
    if (plan.nth <= 0) Die("--nth takes a positive number");
    index += 2;
  }
  if (index + 3 > argc || std::string_view(argv[index + 2]) != "--") {
    Die("usage: seccomp_fault [--nth N] CALL ERRNO -- COMMAND [ARG...]");
  }
  const std::optional<Call> call = FindCall(argv[index]);
  if (!call) Die("unknown system call " + std::string(argv[index]));
  plan.call = *call;
  const std::optional<int> error_number = FindErrno(argv[index + 1]);
  if (!error_number) Die("unknown errno " + std::string(argv[index + 1]));
  plan.error_number = *error_number;
  plan.command = argv + index + 3;
  return plan;
}

// One byte of data and room for one descriptor, as SCM_RIGHTS needs.
struct DescriptorMessage {
  DescriptorMessage() {
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
  }
  DescriptorMessage(const DescriptorMessage&) = delete;
  DescriptorMessage& operator=(const DescriptorMessage&) = delete;

  char data = 0;
  iovec vector{&data, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
};

void SendDescriptor(int socket, int fd) {
  DescriptorMessage out;
  cmsghdr* header = CMSG_FIRSTHDR(&out.message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
  if (sendmsg(socket, &out.message, 0) != 1) Die("sendmsg failed");
}

int ReceiveDescriptor(int socket) {
  DescriptorMessage in;
  if (recvmsg(socket, &in.message, 0) != 1) return -1;
  cmsghdr* header = CMSG_FIRSTHDR(&in.message);
  if (header == nullptr || header->cmsg_type != SCM_RIGHTS) return -1;
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(header), sizeof(int));
  return fd;
}

// Answers notifications until the command has exited; returns how many
// matching calls it saw and sets `failed` if one was made to fail.
long Supervise(const Plan& plan, Listener& listener, pid_t child, int& status,
               bool& failed) {
  // Readable once the command has exited, so that the wait below ends at
  // once; without it (-1) the timeout bounds the wait.
  const int exited = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
  long seen = 0;
  for (;;) {
    if (const seccomp_notif* request = listener.Receive(100, exited)) {
      // The filter stops only the plan's system call; a keyctl operation
      // other than the plan's runs.
      if (!Matches(plan.call, request->data)) {
        listener.Continue();
        continue;
      }
      ++seen;
      if (plan.nth == 0 || seen == plan.nth) {
        listener.Fail(plan.error_number);
        failed = true;
      } else {
        listener.Continue();
      }
      continue;
    }
    const pid_t done = waitpid(child, &status, WNOHANG);
    if (done == child) {
      if (exited >= 0) close(exited);
      return seen;
    }
    if (done < 0) Die("waitpid failed");
  }
}

int Main(int argc, char** argv) {
  const Plan plan = ParseArguments(argc, argv);
  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) {
    Die("socketpair failed");
  }
  const pid_t child = fork();
  if (child < 0) Die("fork failed");
  if (child == 0) {
    close(sockets[0]);
    const int listener =
        InstallFilter(SyscallsToStop(plan.call, /*keyring_calls=*/false));
    if (listener < 0) Die(std::string("seccomp: ") + std::strerror(errno));
    SendDescriptor(sockets[1], listener);
    close(listener);
    close(sockets[1]);
    execvp(plan.command[0], plan.command);
    std::fprintf(stderr, "seccomp_fault: exec %s: %s\n", plan.command[0],
                 std::strerror(errno));
    _exit(127);
  }
  close(sockets[1]);
  const int listener_fd = ReceiveDescriptor(sockets[0]);
  close(sockets[0]);
  if (listener_fd < 0) Die("did not receive the seccomp listener");
  Listener listener(listener_fd);
  if (!listener.ok()) Die("SECCOMP_GET_NOTIF_SIZES failed");

  int status = 0;
  bool failed = false;
  const long seen = Supervise(plan, listener, child, status, failed);
  std::fprintf(stderr, "seccomp_fault: %ld matching calls, %s\n", seen,
               failed ? "one or more failed" : "none failed");
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

}  // namespace
}  // namespace sessionkeyring::fault

int main(int argc, char** argv) {
  return sessionkeyring::fault::Main(argc, argv);
}
