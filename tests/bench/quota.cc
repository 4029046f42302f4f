// (5) How many sessions one user can hold open at once.
//
// Every open session owns a keyring charged to the user's key quota
// (kernel.keys.maxkeys, maxbytes), on top of the user's own two keyrings
// (_uid.<uid> and _uid_ses.<uid>). The driver keeps opening sessions for
// one user without closing any, each in its own forked child (a session
// keyring belongs to the thread that joined it, so the child must live on
// to keep it), until an open fails (pam_keyinit) or the module falls back
// to making the keyring as the caller (pam_sessionkeyring), which it says
// in a warning and which shows as a keyring not owned by the user.
//
// The children inherit the driver's session keyring. That matters: the
// kernel lets a thread with no session keyring at all overrun the quota
// for its first one, which would hide the limit.

#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "benchmarks.h"

namespace sessionkeyring::bench {
namespace {

// What a child reports once its session is open.
struct Opened {
  int code = PAM_SUCCESS;
  long owner = -1;  // of the child's session keyring afterwards
};

// A child that opens one session, reports on `out`, then holds the session
// until `release` reaches end of file, and closes it.
[[noreturn]] void HoldSession(int out, int release, const std::string& confdir,
                              const std::string& service,
                              const std::string& user) {
  std::string error;
  pam_handle_t* pamh = StartPam(confdir, service, user, error);
  Opened opened;
  opened.code = pamh == nullptr ? PAM_SYSTEM_ERR : pam_open_session(pamh, 0);
  opened.owner = KeyOwner(KEY_SPEC_SESSION_KEYRING);
  WriteAll(out, &opened, sizeof opened);
  close(out);

  char ignored;
  while (read(release, &ignored, 1) < 0 && errno == EINTR) {
  }
  if (pamh != nullptr) {
    if (opened.code == PAM_SUCCESS) pam_close_session(pamh, 0);
    pam_end(pamh, PAM_SUCCESS);
  }
  _exit(0);
}

// Binds a datagram socket where syslog(3) sends (the bench's private
// /dev/log), so that the module's warning can be read. -1 without one.
int ListenForSyslog(const std::string& path) {
  if (path.empty()) return -1;
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) Die("socket: " + std::string(strerror(errno)));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  unlink(path.c_str());
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) !=
      0) {
    Die("bind " + path + ": " + strerror(errno));
  }
  chmod(path.c_str(), 0666);
  return fd;
}

// The first line of the service's module at warning level or worse among
// the datagrams waiting on `fd`, or "". syslog(3) sends "<priority>
// timestamp tag: text", and pam_syslog() starts the text with
// "module(service:type): ".
std::string FirstWarning(int fd, const std::string& service) {
  const std::string module_of_service = "(" + service + ":";
  std::string found;
  char buffer[2048];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof buffer - 1, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return found;
    buffer[n] = '\0';
    int priority = 0;
    if (std::sscanf(buffer, "<%d>", &priority) == 1 && (priority & 7) <= 4 &&
        std::strstr(buffer, module_of_service.c_str()) != nullptr &&
        found.empty()) {
      const char* text = std::strstr(buffer, ": ");
      found = text != nullptr ? text + 2 : buffer;
    }
  }
}

std::string Describe(const KeyUsage& usage) {
  if (usage.total == 0) return "no keys";
  return Format("%ld/%ld keys, %ld/%ld bytes", usage.keys, usage.max_keys,
                usage.bytes, usage.max_bytes);
}

}  // namespace

int RunQuota(const Flags& flags) {
  const std::string confdir = flags.String("confdir");
  const std::string user = flags.String("user");
  const std::string service = flags.String("service");
  const std::string label = flags.String("label", service);
  const long limit = flags.Integer("limit", 1000);
  if (confdir.empty() || user.empty() || service.empty() || limit < 1) {
    Die("quota needs --confdir, --user and --service");
  }
  const uid_t uid = LookUpUser(user).uid;
  const KeyUsage before = KeyUsageOf(uid);
  const int log = ListenForSyslog(flags.String("log-socket"));

  int release[2];
  if (pipe2(release, O_CLOEXEC) != 0) Die("pipe2 failed");
  std::vector<pid_t> children;
  long held = 0;
  std::string stop = Format("none within %ld sessions", limit);
  KeyUsage at_stop;
  std::fflush(stdout);
  while (held < limit) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) Die("pipe2 failed");
    const pid_t pid = fork();
    if (pid < 0) Die("fork failed");
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(release[1]);
      close(report[0]);
      HoldSession(report[1], release[0], confdir, service, user);
    }
    children.push_back(pid);
    close(report[1]);
    const std::string data = ReadAll(report[0]);
    close(report[0]);
    Opened opened;
    if (data.size() != sizeof opened) Die("a session holder failed");
    std::memcpy(&opened, data.data(), sizeof opened);

    // The child logged before it reported, so its lines are queued now.
    const std::string warning = log >= 0 ? FirstWarning(log, service) : "";
    if (opened.code != PAM_SUCCESS) {
      stop = Format("open failed: %s", pam_strerror(nullptr, opened.code));
    } else if (!warning.empty()) {
      stop = "warning: " + warning;
    } else if (opened.owner != static_cast<long>(uid)) {
      stop = Format("the session keyring is owned by uid %ld", opened.owner);
    } else {
      ++held;
      continue;
    }
    at_stop = KeyUsageOf(uid);
    break;
  }

  // Closing the pipe lets every holder close its session and exit.
  close(release[1]);
  close(release[0]);
  for (const pid_t pid : children) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (log >= 0) close(log);

  std::printf("  %s: %ld sessions held at once; session %ld: %s\n",
              label.c_str(), held, held + 1, stop.c_str());
  std::printf("  %s: the user's quota before: %s; at that point: %s\n",
              label.c_str(), Describe(before).c_str(),
              Describe(at_stop).c_str());
  AddToSummary(flags, Format("(5) sessions one user holds at once, %s: %ld "
                             "(then %s)",
                             label.c_str(), held,
                             stop.substr(0, stop.find(':')).c_str()));
  return 0;
}

}  // namespace sessionkeyring::bench
