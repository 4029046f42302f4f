#include "sandbox.h"

#include <fcntl.h>
#include <keyutils.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <ostream>
#include <sstream>
#include <thread>

#include "user_keyrings.h"

namespace sessionkeyring::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The device nodes PAM clients and shells open; bound back from the real
// /dev into the sandbox's /dev.
constexpr std::array<const char*, 6> kDevices = {"null",   "zero", "urandom",
                                                 "random", "tty",  "full"};

// The usual links of /dev, which shells use for redirections. ptmx is a
// link too: the kernel looks for the devpts of /dev/ptmx in the "pts"
// directory beside it, which it cannot reach from a ptmx bind-mounted on
// its own (opening it fails with ENOENT); devpts's own ptmx needs no search.
constexpr std::array<std::pair<const char*, const char*>, 5> kDevLinks = {{
    {"fd", "/proc/self/fd"},
    {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},
    {"ptmx", "pts/ptmx"},
}};

// The real files the sandbox hides, checked again when it is left.
constexpr std::array<const char*, 2> kEtcFiles = {"/etc/passwd", "/etc/group"};
constexpr char kPamDir[] = "/etc/pam.d";
constexpr char kShadow[] = "/etc/shadow";

// How long the kernel's key garbage collector gets to destroy the test
// users' keyrings after they are invalidated; it usually needs ~50 ms.
constexpr std::chrono::seconds kKeyCollectionTimeout{5};

std::string ErrnoMessage(std::string_view what, int error_number) {
  return std::string(what) + ": " + std::strerror(error_number);
}

bool ReadFile(const fs::path& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  out = buffer.str();
  return !in.bad();
}

[[nodiscard]] std::string WriteFile(const fs::path& path,
                                    std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return "cannot write " + path.string();
  return {};
}

// Contents of the real files the sandbox hides: each file of /etc/pam.d
// (symlinks by their target) and the passwd and group files.
std::map<std::string, std::string> SnapshotEtc() {
  std::map<std::string, std::string> snapshot;
  std::error_code error;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(kPamDir, error)) {
    std::string content;
    if (entry.is_symlink()) {
      content = "symlink to " + fs::read_symlink(entry.path(), error).string();
    } else if (!ReadFile(entry.path(), content)) {
      content = "<unreadable>";
    }
    snapshot[entry.path().string()] = std::move(content);
  }
  for (const char* file : kEtcFiles) {
    std::string content;
    if (!ReadFile(file, content)) content = "<unreadable>";
    snapshot[file] = std::move(content);
  }
  return snapshot;
}

// Reads everything available on a non-blocking fd; false once it is at EOF.
bool ReadAvailable(int fd, std::string& into) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n > 0) {
      into.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

// Child side of Run(): wire up the pipes, prepare, exec. Never returns.
[[noreturn]] void ExecChild(const std::vector<std::string>& argv,
                            const ChildSetup& setup, int out_fd, int err_fd) {
  setpgid(0, 0);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
      dup2(out_fd, STDOUT_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0) {
    _exit(Sandbox::kSetupFailedExitCode);
  }
  // Messages of libpam and of the clients are compared as English text.
  setenv("LC_ALL", "C", 1);
  if (setup) {
    const std::string error = setup();
    if (!error.empty()) {
      const std::string line = "child setup failed: " + error + "\n";
      // Nothing more can be done if stderr is gone too.
      [[maybe_unused]] const ssize_t written =
          write(STDERR_FILENO, line.data(), line.size());
      _exit(Sandbox::kSetupFailedExitCode);
    }
  }
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  execvp(args[0], args.data());
  _exit(127);
}

// The number of keys /proc/key-users counts for `uid` (0 if none). Its
// lines read "uid: usage nkeys/ninstantiated qnkeys/maxkeys ...".
}  // namespace

LogLine ParseLogLine(std::string_view datagram) {
  LogLine line;
  line.raw = datagram;
  while (!line.raw.empty() &&
         (line.raw.back() == '\n' || line.raw.back() == '\0')) {
    line.raw.pop_back();
  }
  std::string_view rest = line.raw;

  // "<87>": facility * 8 + severity.
  const size_t close = rest.find('>');
  int priority = 0;
  if (rest.empty() || rest[0] != '<' || close == std::string_view::npos ||
      std::from_chars(rest.data() + 1, rest.data() + close, priority).ec !=
          std::errc()) {
    return line;
  }
  line.severity = priority & 7;
  rest.remove_prefix(close + 1);

  // "Dec  3 13:19:50 " is always 16 characters.
  constexpr size_t kTimestampLength = 16;
  if (rest.size() < kTimestampLength) return line;
  rest.remove_prefix(kTimestampLength);

  const size_t colon = rest.find(": ");
  if (colon == std::string_view::npos) {
    line.text = rest;
    return line;
  }
  line.program = rest.substr(0, colon);
  rest.remove_prefix(colon + 2);

  // pam_syslog's "module(service:type): ".
  const size_t open = rest.find('(');
  const size_t end = rest.find("): ");
  if (open != std::string_view::npos && end != std::string_view::npos &&
      open < end && rest.substr(0, open).find(' ') == std::string_view::npos) {
    line.module = rest.substr(0, open);
    rest.remove_prefix(end + 3);
  }
  line.text = rest;
  return line;
}

void PrintTo(const LogLine& line, std::ostream* out) { *out << line.raw; }

std::string Describe(const RunResult& result) {
  std::ostringstream text;
  text << "exit code " << result.exit_code
       << (result.timed_out ? " (timed out)" : "") << "\n--- stdout\n"
       << result.out << "--- stderr\n"
       << result.err << "--- log\n";
  for (const LogLine& line : result.log) text << line.raw << "\n";
  return text.str();
}

Sandbox::~Sandbox() {
  if (!dir_.empty()) static_cast<void>(Leave());
}

std::string Sandbox::WhyUnavailable() {
  if (geteuid() != 0) return "needs root";
  // Try in a child, so that this process stays where it is.
  const pid_t pid = fork();
  if (pid < 0) return ErrnoMessage("fork", errno);
  if (pid == 0) _exit(unshare(CLONE_NEWNS) == 0 ? 0 : errno);
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return ErrnoMessage("waitpid", errno);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return ErrnoMessage("cannot create a mount namespace",
                        WIFEXITED(status) ? WEXITSTATUS(status) : EPERM);
  }
  return {};
}

std::string Sandbox::Enter(const std::vector<TestUser>& users) {
  users_ = users;
  etc_before_ = SnapshotEtc();

  original_namespace_fd_ = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  if (original_namespace_fd_ < 0) {
    return ErrnoMessage("open /proc/self/ns/mnt", errno);
  }
  if (unshare(CLONE_NEWNS) != 0) return ErrnoMessage("unshare", errno);
  // Without this, mounts made here would propagate back to the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return ErrnoMessage("make / private", errno);
  }

  char dir_template[] = "/tmp/skr-e2e.XXXXXX";
  if (mkdtemp(dir_template) == nullptr) return ErrnoMessage("mkdtemp", errno);
  dir_ = dir_template;
  // The test users' shells must reach their homes and the probe script.
  if (chmod(dir_.c_str(), 0755) != 0) return ErrnoMessage("chmod", errno);

  std::error_code error;
  fs::copy(kPamDir, dir_ / "pam.d",
           fs::copy_options::recursive | fs::copy_options::copy_symlinks,
           error);
  if (error) return "copy /etc/pam.d: " + error.message();

  if (std::string failure = WriteUsers(); !failure.empty()) return failure;
  if (std::string failure = BindOverEtc(); !failure.empty()) return failure;
  if (std::string failure = HideShadow(); !failure.empty()) return failure;
  if (std::string failure = BuildDev(); !failure.empty()) return failure;

  log_fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (log_fd_ < 0) return ErrnoMessage("socket", errno);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, "/dev/log", sizeof address.sun_path - 1);
  if (bind(log_fd_, reinterpret_cast<const sockaddr*>(&address),
           sizeof address) != 0) {
    return ErrnoMessage("bind /dev/log", errno);
  }
  if (chmod("/dev/log", 0666) != 0) return ErrnoMessage("chmod", errno);
  return {};
}

std::string Sandbox::WriteUsers() {
  std::string passwd;
  std::string group;
  if (!ReadFile("/etc/passwd", passwd) || !ReadFile("/etc/group", group)) {
    return "cannot read /etc/passwd or /etc/group";
  }
  for (const TestUser& user : users_) {
    const fs::path home = HomeOf(user);
    std::error_code error;
    fs::create_directories(home, error);
    if (error) return "create " + home.string() + ": " + error.message();
    if (chown(home.c_str(), user.uid, user.gid) != 0) {
      return ErrnoMessage("chown " + home.string(), errno);
    }
    const std::string uid = std::to_string(user.uid);
    const std::string gid = std::to_string(user.gid);
    passwd += user.name + ":x:" + uid + ":" + gid +
              ":e2e test user:" + home.string() + ":/bin/sh\n";
    group += user.name + ":x:" + gid + ":\n";
  }
  if (std::string failure = WriteFile(dir_ / "passwd", passwd);
      !failure.empty()) {
    return failure;
  }
  return WriteFile(dir_ / "group", group);
}

std::string Sandbox::BindOverEtc() {
  if (std::string failure = Mount(dir_ / "pam.d", kPamDir, nullptr, MS_BIND);
      !failure.empty()) {
    return failure;
  }
  for (const char* file : kEtcFiles) {
    const fs::path copy = dir_ / fs::path(file).filename();
    if (std::string failure = Mount(copy, file, nullptr, MS_BIND);
        !failure.empty()) {
      return failure;
    }
  }
  return {};
}

// pam_unix's account check, which su, sudo, login and sshd run, fails for
// a user whose passwd entry says "x" but who has no shadow entry. The test
// users get one whose "*" matches no password and whose empty aging fields
// never expire. A system without shadow passwords has nothing to hide.
std::string Sandbox::HideShadow() {
  if (!fs::exists(kShadow)) return {};
  std::string shadow;
  if (!ReadFile(kShadow, shadow)) return "cannot read /etc/shadow";
  if (!shadow.empty() && shadow.back() != '\n') shadow += '\n';
  for (const TestUser& user : users_) shadow += user.name + ":*:::::::\n";
  return Hide(kShadow, shadow);
}

// Builds the new /dev aside, while the real one is still in place to bind
// device nodes from, then moves it over /dev in one step.
std::string Sandbox::BuildDev() {
  const fs::path staged = dir_ / "dev";
  std::error_code error;
  fs::create_directory(staged, error);
  if (error) return "create " + staged.string() + ": " + error.message();
  if (std::string failure =
          Mount("tmpfs", staged, "tmpfs", MS_NOSUID, "mode=0755");
      !failure.empty()) {
    return failure;
  }

  for (const char* device : kDevices) {
    const fs::path node = staged / device;
    if (std::string failure = WriteFile(node, ""); !failure.empty()) {
      return failure;
    }
    if (std::string failure =
            Mount(fs::path("/dev") / device, node, nullptr, MS_BIND);
        !failure.empty()) {
      return failure;
    }
  }
  fs::create_directory(staged / "pts", error);
  if (error) return "create dev/pts: " + error.message();
  if (std::string failure = Mount("/dev/pts", staged / "pts", nullptr, MS_BIND);
      !failure.empty()) {
    return failure;
  }
  for (const auto& [name, target] : kDevLinks) {
    fs::create_symlink(target, staged / name, error);
    if (error) {
      return "symlink dev/" + std::string(name) + ": " + error.message();
    }
  }

  if (mount(staged.c_str(), "/dev", nullptr, MS_MOVE, nullptr) != 0) {
    return ErrnoMessage("move the new /dev over /dev", errno);
  }
  // The staged mounts now live under /dev; detaching /dev takes them all.
  std::erase_if(mounts_, [&](const fs::path& path) {
    return path.native().starts_with(staged.native());
  });
  mounts_.push_back("/dev");
  return {};
}

std::string Sandbox::Mount(const fs::path& source, const fs::path& target,
                           const char* type, unsigned long flags,
                           const char* data) {
  if (mount(source.c_str(), target.c_str(), type, flags, data) != 0) {
    return ErrnoMessage("mount " + source.string() + " on " + target.string(),
                        errno);
  }
  mounts_.push_back(target);
  return {};
}

std::string Sandbox::Leave() {
  std::string problems;
  const auto note = [&problems](const std::string& problem) {
    problems += problem + "\n";
  };

  if (log_fd_ >= 0) close(log_fd_);
  log_fd_ = -1;
  for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) {
    if (umount2(it->c_str(), MNT_DETACH) != 0) {
      note(ErrnoMessage("unmount " + it->string(), errno));
    }
  }
  mounts_.clear();
  if (original_namespace_fd_ >= 0) {
    if (setns(original_namespace_fd_, CLONE_NEWNS) != 0) {
      note(ErrnoMessage("return to the original mount namespace", errno));
    }
    close(original_namespace_fd_);
    original_namespace_fd_ = -1;
  }

  if (!etc_before_.empty() && SnapshotEtc() != etc_before_) {
    note("the real /etc/pam.d, /etc/passwd or /etc/group changed");
  }
  etc_before_.clear();
  for (const auto& [path, before] : hidden_) {
    std::string now;
    if (before && (!ReadFile(path, now) || now != *before)) {
      note("the real " + path.string() + " changed");
    }
  }
  hidden_.clear();

  if (!dir_.empty()) {
    std::error_code error;
    fs::remove_all(dir_, error);
    if (error) note("remove " + dir_.string() + ": " + error.message());
    dir_.clear();
  }

  if (std::string failure = ForgetUserKeyrings(); !failure.empty()) {
    note(failure);
  }
  users_.clear();
  return problems;
}

std::string Sandbox::WriteService(std::string_view name,
                                  std::string_view text) {
  return WriteFile(fs::path(kPamDir) / name, text);
}

fs::path Sandbox::InstallScript(const fs::path& source) {
  const fs::path target = dir_ / source.filename();
  std::error_code error;
  fs::copy_file(source, target, fs::copy_options::overwrite_existing, error);
  if (error || chmod(target.c_str(), 0755) != 0) return {};
  return target;
}

std::string Sandbox::Hide(const fs::path& path, std::string_view text) {
  const fs::path copy = dir_ / "hidden" / path.relative_path();
  if (hidden_.contains(path)) return WriteFile(copy, text);

  struct stat real {};
  if (stat(path.c_str(), &real) != 0) {
    return ErrnoMessage("stat " + path.string(), errno);
  }
  std::optional<std::string> before;
  if (path.native().starts_with("/etc/")) {
    before.emplace();
    if (!ReadFile(path, *before)) return "cannot read " + path.string();
  }
  std::error_code error;
  fs::create_directories(copy.parent_path(), error);
  if (error) {
    return "create " + copy.parent_path().string() + ": " + error.message();
  }

  // Private before any text goes in: the copy may be of /etc/shadow.
  const int fd =
      open(copy.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoMessage("create " + copy.string(), errno);
  const bool like_real = fchown(fd, real.st_uid, real.st_gid) == 0 &&
                         fchmod(fd, real.st_mode & 07777) == 0;
  const int like_errno = errno;
  close(fd);
  if (!like_real) {
    return ErrnoMessage(
        "give " + copy.string() + " the owner and mode of " + path.string(),
        like_errno);
  }
  if (std::string failure = WriteFile(copy, text); !failure.empty()) {
    return failure;
  }
  if (std::string failure = Mount(copy, path, nullptr, MS_BIND);
      !failure.empty()) {
    return failure;
  }
  hidden_[path] = std::move(before);
  return {};
}

fs::path Sandbox::HomeOf(const TestUser& user) const {
  return dir_ / "home" / user.name;
}

RunResult Sandbox::Run(const std::vector<std::string>& argv,
                       const ChildSetup& setup,
                       std::chrono::milliseconds timeout) {
  RunResult result;
  DrainLog(result.log);
  result.log.clear();  // lines from before this run belong to nobody

  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.err = ErrnoMessage("pipe2", errno);
    return result;
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.err = ErrnoMessage("pipe2", errno);
    close(out_pipe[0]);
    close(out_pipe[1]);
    return result;
  }
  const std::vector<std::string> command = Launched(argv);
  const pid_t pid = fork();
  if (pid == 0) ExecChild(command, setup, out_pipe[1], err_pipe[1]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (pid < 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    result.err = ErrnoMessage("fork", errno);
    return result;
  }
  // Also set here, so that the group exists before the kill below even if
  // the child has not run yet.
  setpgid(pid, pid);
  fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);

  // Read output and log lines as they come: the log socket's queue is
  // short, and a full one would block the child in syslog().
  const Clock::time_point deadline = Clock::now() + timeout;
  bool out_open = true;
  bool err_open = true;
  bool exited = false;
  int status = 0;
  while (!exited) {
    if (Clock::now() >= deadline) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    pollfd fds[3] = {{out_open ? out_pipe[0] : -1, POLLIN, 0},
                     {err_open ? err_pipe[0] : -1, POLLIN, 0},
                     {log_fd_, POLLIN, 0}};
    poll(fds, 3, 20);
    if (out_open) out_open = ReadAvailable(out_pipe[0], result.out);
    if (err_open) err_open = ReadAvailable(err_pipe[0], result.err);
    DrainLog(result.log);
    if (!out_open && !err_open) exited = waitpid(pid, &status, WNOHANG) == pid;
  }
  // Whatever the command left in its process group goes with it.
  kill(-pid, SIGKILL);
  if (out_open) ReadAvailable(out_pipe[0], result.out);
  if (err_open) ReadAvailable(err_pipe[0], result.err);
  close(out_pipe[0]);
  close(err_pipe[0]);
  DrainLog(result.log);
  result.exit_code = ExitCodeOf(status);
  return result;
}

pid_t Sandbox::Start(const std::vector<std::string>& argv,
                     const ChildSetup& setup, const fs::path& output) {
  const int out_fd =
      open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out_fd < 0) return -1;
  const std::vector<std::string> command = Launched(argv);
  const pid_t pid = fork();
  if (pid == 0) ExecChild(command, setup, out_fd, out_fd);
  const int fork_errno = errno;
  close(out_fd);
  // As in Run(): the group exists before the caller can signal it.
  if (pid > 0) setpgid(pid, pid);
  errno = fork_errno;
  return pid;
}

std::vector<std::string> Sandbox::Launched(
    const std::vector<std::string>& argv) const {
  std::vector<std::string> command = launcher_;
  command.insert(command.end(), argv.begin(), argv.end());
  return command;
}

void Sandbox::DrainLog(std::vector<LogLine>& into) {
  if (log_fd_ < 0) return;
  char buffer[8192];
  for (;;) {
    const ssize_t n = recv(log_fd_, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    into.push_back(
        ParseLogLine(std::string_view(buffer, static_cast<size_t>(n))));
  }
}

std::string Sandbox::ForgetUserKeyrings() {
  std::string problems;
  for (const TestUser& user : users_) {
    const std::string problem = testing::ForgetUserKeyrings(user.uid, user.gid);
    if (!problem.empty()) problems += user.name + ": " + problem + "\n";
  }
  return problems;
}

}  // namespace sessionkeyring::e2e
