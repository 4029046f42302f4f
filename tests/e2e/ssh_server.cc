#include "ssh_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "environment.h"
#include "stray_processes.h"

namespace sessionkeyring::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// sshd refuses to start without it; on a real host the service manager
// makes it.
constexpr char kPrivilegeSeparationDir[] = "/run/sshd";

constexpr std::chrono::seconds kStartTimeout{10};
constexpr std::chrono::seconds kStopTimeout{5};
constexpr std::chrono::seconds kSessionEndTimeout{10};
constexpr std::chrono::milliseconds kPollInterval{20};

std::string ErrnoMessage(std::string_view what, int error_number) {
  return std::string(what) + ": " + std::strerror(error_number);
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Readable by everyone: sshd reads the authorized keys as the user.
[[nodiscard]] std::string WritePublic(const fs::path& path,
                                      std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return "cannot write " + path.string();
  if (chmod(path.c_str(), 0644) != 0) {
    return ErrnoMessage("chmod " + path.string(), errno);
  }
  return {};
}

// A port nothing was bound to a moment ago. Another process could take it
// before sshd binds it; sshd then exits with "Address already in use",
// and Start() fails saying so instead of hanging.
uint16_t FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) ==
          0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

// Whether `pid` has children, running or ended but not yet reaped.
bool HasChildren(pid_t pid) {
  const std::string task = std::to_string(pid);
  return ReadAll("/proc/" + task + "/task/" + task + "/children")
             .find_first_not_of(" \n") != std::string::npos;
}

// Waits up to `timeout` for the child `pid` to exit, and reaps it.
bool Reap(pid_t pid, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace

std::string SshServer::WhyUnavailable() {
  if (access(kSshd, X_OK) != 0) {
    return std::string("needs ") + kSshd + " (Debian: openssh-server)";
  }
  for (const char* program : {"ssh", "ssh-keygen"}) {
    if (!InPath(program)) return std::string("needs ") + program + " in PATH";
  }
  return {};
}

SshServer::~SshServer() {
  if (pid_ > 0 || made_privilege_separation_dir_) static_cast<void>(Stop());
}

std::string SshServer::Start(const CallerKeyring& caller,
                             const TestUser& user) {
  if (pid_ > 0) return "sshd is already running";
  std::error_code error;
  fs::create_directories(Dir(), error);
  if (error) return "create " + Dir().string() + ": " + error.message();
  // sshd reads the authorized keys below it as the user.
  if (chmod(Dir().c_str(), 0755) != 0) {
    return ErrnoMessage("chmod " + Dir().string(), errno);
  }
  if (std::string failure = MakeKeys(); !failure.empty()) return failure;

  if (!fs::exists(kPrivilegeSeparationDir)) {
    if (mkdir(kPrivilegeSeparationDir, 0755) != 0) {
      return ErrnoMessage(std::string("mkdir ") + kPrivilegeSeparationDir,
                          errno);
    }
    made_privilege_separation_dir_ = true;
  }
  port_ = FreeLoopbackPort();
  if (port_ == 0) return "found no free loopback port";
  if (std::string failure = WriteConfig(user); !failure.empty()) {
    return failure;
  }

  pid_ = sandbox_.Start(
      {kSshd, "-D", "-e", "-f", (Dir() / "sshd_config").string()},
      [&caller] { return caller.Enter(); }, Dir() / "sshd.out");
  if (pid_ < 0) return ErrnoMessage("start sshd", errno);
  return WaitUntilListening();
}

std::vector<std::string> SshServer::ClientArgv(const TestUser& user,
                                               std::string_view command) const {
  // -F /dev/null: none of the host's client settings, and no ~/.ssh made
  // for root. The host key is new in every sandbox: not checked, not kept.
  const std::string key = (Dir() / "client_key").string();
  const std::string port = std::to_string(port_);
  std::vector<std::string> argv = {"ssh", "-F", "/dev/null", "-i",
                                   key,   "-p", port};
  for (const char* option :
       {"BatchMode=yes", "IdentitiesOnly=yes", "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null", "GlobalKnownHostsFile=/dev/null",
        "LogLevel=ERROR"}) {
    argv.push_back("-o");
    argv.push_back(option);
  }
  argv.push_back(user.name + "@127.0.0.1");
  argv.push_back(std::string(command));
  return argv;
}

std::string SshServer::WaitForSessionsToEnd() {
  return WaitForStrayProcesses(kSessionEndTimeout, pid_);
}

std::string SshServer::Stop() {
  std::string problems;
  if (pid_ > 0) {
    // sshd reaps the process of each connection when it ends; stopped
    // before that, it would leave them to init as zombies.
    const Clock::time_point deadline = Clock::now() + kSessionEndTimeout;
    while (HasChildren(pid_) && Clock::now() < deadline) {
      std::this_thread::sleep_for(kPollInterval);
    }
    kill(pid_, SIGTERM);
    if (!Reap(pid_, kStopTimeout)) {
      problems += "sshd outlived SIGTERM\n";
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  // Its connections are sessions of their own, which SIGTERM to the
  // listener leaves running.
  if (std::string strays = WaitForStrayProcesses(kStopTimeout);
      !strays.empty()) {
    KillStrayProcesses();
    problems += "left running after sshd stopped:\n" + strays;
  }
  if (made_privilege_separation_dir_) {
    if (rmdir(kPrivilegeSeparationDir) != 0) {
      problems +=
          ErrnoMessage(std::string("rmdir ") + kPrivilegeSeparationDir, errno) +
          "\n";
    }
    made_privilege_separation_dir_ = false;
  }
  return problems;
}

std::string SshServer::Output() const { return ReadAll(Dir() / "sshd.out"); }

std::filesystem::path SshServer::Dir() const { return sandbox_.dir() / "ssh"; }

// ed25519 keys take milliseconds to make; one pair per sandbox is enough.
std::string SshServer::MakeKeys() {
  for (const char* name : {"host_key", "client_key"}) {
    const fs::path key = Dir() / name;
    if (fs::exists(key)) continue;
    const RunResult made =
        sandbox_.Run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                      "skr-e2e", "-f", key.string()});
    if (made.exit_code != 0) return "ssh-keygen failed: " + Describe(made);
  }
  return {};
}

std::string SshServer::WriteConfig(const TestUser& user) {
  const std::string public_key = ReadAll(Dir() / "client_key.pub");
  if (public_key.empty()) return "cannot read the client's public key";
  const fs::path authorized_keys = Dir() / "authorized_keys";
  if (std::string failure = WritePublic(authorized_keys, public_key);
      !failure.empty()) {
    return failure;
  }
  // StrictModes no: sshd would otherwise insist that the user own the
  // directories above the authorized keys, which root owns here.
  const std::vector<std::string> lines = {
      "ListenAddress 127.0.0.1:" + std::to_string(port_),
      "HostKey " + (Dir() / "host_key").string(),
      "PidFile " + (Dir() / "sshd.pid").string(),
      "AuthorizedKeysFile " + authorized_keys.string(),
      "AllowUsers " + user.name,
      "StrictModes no",
      "UsePAM yes",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin no",
      "UseDNS no",
      "PrintMotd no",
      "PrintLastLog no",
  };
  std::string config;
  for (const std::string& line : lines) config += line + "\n";
  return WritePublic(Dir() / "sshd_config", config);
}

std::string SshServer::WaitUntilListening() {
  const std::string listening =
      "Server listening on 127.0.0.1 port " + std::to_string(port_) + ".";
  const Clock::time_point deadline = Clock::now() + kStartTimeout;
  while (Output().find(listening) == std::string::npos) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return "sshd exited:\n" + Output();
    }
    if (Clock::now() >= deadline) return "sshd is not listening:\n" + Output();
    std::this_thread::sleep_for(kPollInterval);
  }
  return {};
}

}  // namespace sessionkeyring::e2e
