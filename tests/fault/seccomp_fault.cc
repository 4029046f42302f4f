// seccomp_fault: runs a command with one system call made to fail.
//
//   seccomp_fault [--nth N] CALL ERRNO -- COMMAND [ARG...]
//
// CALL is setresuid, setresgid, getresuid, getresgid, or keyctl:OP where
// OP is one of the keyctl operations the module uses (get_keyring_id,
// join, revoke, describe, link, unlink, get_persistent). ERRNO is a name
// such as EPERM or EDQUOT. With --nth N only the Nth matching call fails
// and the others run normally; without it every matching call fails.
//
// The command runs under a seccomp filter that hands each matching call to
// this process (SECCOMP_RET_USER_NOTIF), which counts it and answers
// either with the error or by letting the kernel carry it out. The exit
// status is the command's; the last line on stderr says how many matching
// calls there were and whether one was failed.

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Named {
  std::string_view name;
  int value;
};

constexpr Named kKeyctlOperations[] = {
    {"get_keyring_id", 0},  {"join", 1}, {"revoke", 3},
    {"describe", 6},        {"link", 8}, {"unlink", 9},
    {"get_persistent", 22},
};

constexpr Named kSyscalls[] = {
    {"keyctl", SYS_keyctl},       {"setresuid", SYS_setresuid},
    {"setresgid", SYS_setresgid}, {"getresuid", SYS_getresuid},
    {"getresgid", SYS_getresgid},
};

constexpr Named kErrnos[] = {
    {"EPERM", EPERM},   {"EACCES", EACCES}, {"EDQUOT", EDQUOT},
    {"ENOMEM", ENOMEM}, {"EINVAL", EINVAL}, {"EKEYREVOKED", EKEYREVOKED},
    {"ENOSYS", ENOSYS}, {"EAGAIN", EAGAIN}, {"ENOKEY", ENOKEY},
};

template <size_t N>
bool Lookup(const Named (&table)[N], std::string_view name, int& value) {
  for (const Named& entry : table) {
    if (entry.name == name) {
      value = entry.value;
      return true;
    }
  }
  return false;
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "seccomp_fault: %s\n", message.c_str());
  std::exit(125);
}

struct Plan {
  int syscall_number = -1;
  int keyctl_operation = -1;  // -1: any keyctl call
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
  std::string_view call = argv[index];
  const size_t colon = call.find(':');
  if (!Lookup(kSyscalls, call.substr(0, colon), plan.syscall_number)) {
    Die("unknown system call " + std::string(call));
  }
  if (colon != std::string_view::npos &&
      !Lookup(kKeyctlOperations, call.substr(colon + 1),
              plan.keyctl_operation)) {
    Die("unknown keyctl operation " + std::string(call));
  }
  if (!Lookup(kErrnos, argv[index + 1], plan.error_number)) {
    Die("unknown errno " + std::string(argv[index + 1]));
  }
  plan.command = argv + index + 3;
  return plan;
}

// Matching calls go to the listener; everything else runs.
int InstallFilter(const Plan& plan) {
  const auto nr = static_cast<unsigned>(plan.syscall_number);
  const auto op = static_cast<unsigned>(plan.keyctl_operation);
  std::vector<sock_filter> code = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  if (plan.keyctl_operation >= 0) {
    code.push_back(
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])));
    code.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, op, 1, 0));
    code.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  }
  code.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
  sock_fprog program{static_cast<unsigned short>(code.size()), code.data()};
  const long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                                SECCOMP_FILTER_FLAG_NEW_LISTENER, &program);
  if (listener < 0) Die(std::string("seccomp: ") + std::strerror(errno));
  return static_cast<int>(listener);
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
long Supervise(const Plan& plan, int listener, pid_t child, int& status,
               bool& failed) {
  seccomp_notif_sizes sizes{};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
    Die("SECCOMP_GET_NOTIF_SIZES failed");
  }
  std::vector<char> request_buffer(sizes.seccomp_notif);
  std::vector<char> response_buffer(sizes.seccomp_notif_resp);
  long seen = 0;
  for (;;) {
    pollfd poll_fd{listener, POLLIN, 0};
    const int ready = poll(&poll_fd, 1, 100);
    if (ready > 0 && (poll_fd.revents & POLLIN) != 0) {
      auto* request = reinterpret_cast<seccomp_notif*>(request_buffer.data());
      std::memset(request, 0, request_buffer.size());
      if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, request) == 0) {
        ++seen;
        auto* response =
            reinterpret_cast<seccomp_notif_resp*>(response_buffer.data());
        std::memset(response, 0, response_buffer.size());
        response->id = request->id;
        if (plan.nth == 0 || seen == plan.nth) {
          response->error = -plan.error_number;
          failed = true;
        } else {
          response->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        }
        // The caller may have died meanwhile (ENOENT): nothing to answer.
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, response);
      }
      continue;
    }
    const pid_t done = waitpid(child, &status, WNOHANG);
    if (done == child) return seen;
    if (done < 0) Die("waitpid failed");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Plan plan = ParseArguments(argc, argv);
  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) {
    Die("socketpair failed");
  }
  const pid_t child = fork();
  if (child < 0) Die("fork failed");
  if (child == 0) {
    close(sockets[0]);
    const int listener = InstallFilter(plan);
    SendDescriptor(sockets[1], listener);
    close(listener);
    close(sockets[1]);
    execvp(plan.command[0], plan.command);
    std::fprintf(stderr, "seccomp_fault: exec %s: %s\n", plan.command[0],
                 std::strerror(errno));
    _exit(127);
  }
  close(sockets[1]);
  const int listener = ReceiveDescriptor(sockets[0]);
  close(sockets[0]);
  if (listener < 0) Die("did not receive the seccomp listener");

  int status = 0;
  bool failed = false;
  const long seen = Supervise(plan, listener, child, status, failed);
  std::fprintf(stderr, "seccomp_fault: %ld matching calls, %s\n", seen,
               failed ? "one or more failed" : "none failed");
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
