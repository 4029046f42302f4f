#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>

extern char** environ;

namespace sessionkeyring::bench {
namespace {

int AnswerNothing(int /*count*/, const pam_message** /*messages*/,
                  pam_response** /*responses*/, void* /*data*/) {
  return PAM_CONV_ERR;
}

const pam_conv kNoConversation = {AnswerNothing, nullptr};

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  if (text.empty()) return parts;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

long ParseInteger(const std::string& name, const std::string& text) {
  long value = 0;
  const auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    Die("--" + name + " needs numbers, got \"" + text + "\"");
  }
  return value;
}

}  // namespace

void Die(const std::string& message) {
  std::fflush(stdout);
  std::fprintf(stderr, "session_bench: %s\n", message.c_str());
  std::exit(2);
}

Flags::Flags(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    const std::string name = argv[i];
    if (name.rfind("--", 0) != 0 || i + 1 >= argc) {
      Die("expected --name value, got \"" + name + "\"");
    }
    values_[name.substr(2)] = argv[++i];
  }
}

std::string Flags::String(const std::string& name,
                          const std::string& fallback) const {
  const auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

long Flags::Integer(const std::string& name, long fallback) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  return ParseInteger(name, it->second);
}

std::vector<long> Flags::Integers(const std::string& name) const {
  std::vector<long> values;
  for (const std::string& text : List(name)) {
    values.push_back(ParseInteger(name, text));
  }
  return values;
}

std::vector<std::string> Flags::List(const std::string& name) const {
  return Split(String(name), ',');
}

std::vector<std::pair<std::string, std::string>> Flags::Pairs(
    const std::string& name) const {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const std::string& item : List(name)) {
    const size_t equals = item.find('=');
    if (equals == std::string::npos) {
      Die("--" + name + " needs label=value items, got \"" + item + "\"");
    }
    pairs.emplace_back(item.substr(0, equals), item.substr(equals + 1));
  }
  return pairs;
}

double Median(std::vector<double> values) { return Quantile(values, 0.5); }

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = q * static_cast<double>(values.size() - 1);
  const auto below = static_cast<size_t>(rank);
  const size_t above = std::min(below + 1, values.size() - 1);
  const double fraction = rank - static_cast<double>(below);
  return values[below] + (values[above] - values[below]) * fraction;
}

double Mean(const std::vector<double>& values) {
  if (values.empty()) return 0;
  return std::accumulate(values.begin(), values.end(), 0.0) /
         static_cast<double>(values.size());
}

ChildResult RunInChild(const std::function<int(int fd)>& body) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) Die("pipe2: " + std::string(strerror(errno)));
  // Buffered output would otherwise be written twice, once by each process.
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) Die("fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(fds[0]);
    // _exit: the parent's atexit handlers and stdio buffers are not ours.
    _exit(body(fds[1]));
  }
  close(fds[1]);
  ChildResult result = CollectChild(pid, fds[0]);
  if (!result.ok && result.data.empty()) {
    result.data = Format("child ended with wait status %d", result.wait_status);
  }
  return result;
}

ChildResult CollectChild(pid_t pid, int read_fd) {
  ChildResult result;
  result.data = ReadAll(read_fd);
  close(read_fd);
  while (waitpid(pid, &result.wait_status, 0) < 0 && errno == EINTR) {
  }
  result.ok =
      WIFEXITED(result.wait_status) && WEXITSTATUS(result.wait_status) == 0;
  return result;
}

bool WriteAll(int fd, const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = write(fd, bytes, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool WriteAll(int fd, const std::string& text) {
  return WriteAll(fd, text.data(), text.size());
}

std::string ReadAll(int fd) {
  std::string data;
  char buffer[8192];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return data;
    data.append(buffer, static_cast<size_t>(n));
  }
}

std::string Encode(const std::vector<double>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(double));
}

std::vector<double> Decode(const std::string& bytes) {
  std::vector<double> values(bytes.size() / sizeof(double));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(double));
  return values;
}

const pam_conv* NoConversation() { return &kNoConversation; }

pam_handle_t* StartPam(const std::string& confdir, const std::string& service,
                       const std::string& user, std::string& error) {
  pam_handle_t* pamh = nullptr;
  const int code = pam_start_confdir(service.c_str(), user.c_str(),
                                     NoConversation(), confdir.c_str(), &pamh);
  if (code != PAM_SUCCESS) {
    error = "pam_start_confdir(" + service + "): " + pam_strerror(pamh, code);
    return nullptr;
  }
  return pamh;
}

std::string RunPamtester(const std::string& service, const std::string& user,
                         PamtesterRun& run) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::string words[] = {"pamtester", service, user, "open_session",
                         "close_session"};
  char* argv[] = {words[0].data(), words[1].data(), words[2].data(),
                  words[3].data(), words[4].data(), nullptr};

  const Clock::time_point start = Clock::now();
  pid_t pid = 0;
  const int spawned =
      posix_spawnp(&pid, "pamtester", &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return "posix_spawnp pamtester: " + std::string(strerror(spawned));
  }
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) return "wait4: " + std::string(strerror(errno));
  }
  run.micros = MicrosBetween(start, Clock::now());
  run.cpu_micros =
      static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6 +
      static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Format("pamtester %s %s failed (wait status %d)", service.c_str(),
                  user.c_str(), status);
  }
  return {};
}

std::string PamtesterPeakRss(const std::string& service,
                             const std::string& user, double& kb) {
  std::string words[] = {"pamtester", service, user, "open_session",
                         "close_session"};
  char* argv[] = {words[0].data(), words[1].data(), words[2].data(),
                  words[3].data(), words[4].data(), nullptr};
  const pid_t pid = fork();
  if (pid < 0) return "fork: " + std::string(strerror(errno));
  if (pid == 0) {
    const int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
        dup2(null, 2) < 0) {
      _exit(126);
    }
    if (null > 2) close(null);
    execvp(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) return "wait4: " + std::string(strerror(errno));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Format("pamtester %s %s failed (wait status %d)", service.c_str(),
                  user.c_str(), status);
  }
  kb = static_cast<double>(usage.ru_maxrss);
  return {};
}

long Keyctl(int operation, unsigned long a, unsigned long b, unsigned long c) {
  return syscall(SYS_keyctl, operation, a, b, c, 0UL);
}

unsigned long KeyArg(long value) { return static_cast<unsigned long>(value); }

KeyUsage KeyUsageOf(uid_t uid) {
  // "<uid>: <usage> <keys>/<instantiated> <keys>/<max> <bytes>/<max>"
  std::ifstream in("/proc/key-users");
  const std::string owner = std::to_string(uid) + ":";
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string field, usage, instantiated, keys, bytes;
    if (!(fields >> field) || field != owner) continue;
    KeyUsage result;
    if (fields >> usage >> instantiated >> keys >> bytes &&
        std::sscanf(instantiated.c_str(), "%ld/", &result.total) == 1 &&
        std::sscanf(keys.c_str(), "%ld/%ld", &result.keys, &result.max_keys) ==
            2 &&
        std::sscanf(bytes.c_str(), "%ld/%ld", &result.bytes,
                    &result.max_bytes) == 2) {
      return result;
    }
  }
  return {};
}

long KeyOwner(long serial) {
  // "keyring;<uid>;<gid>;<perm>;<description>"
  char text[256] = {};
  if (Keyctl(KEYCTL_DESCRIBE, KeyArg(serial), reinterpret_cast<uintptr_t>(text),
             sizeof text - 1) < 0) {
    return -1;
  }
  const char* uid = std::strchr(text, ';');
  if (uid == nullptr) return -1;
  return std::strtol(uid + 1, nullptr, 10);
}

UserIds LookUpUser(const std::string& name) {
  passwd entry{};
  passwd* found = nullptr;
  char buffer[4096];
  if (getpwnam_r(name.c_str(), &entry, buffer, sizeof buffer, &found) != 0 ||
      found == nullptr) {
    Die("no passwd entry for " + name);
  }
  return {found->pw_uid, found->pw_gid};
}

void AddToSummary(const Flags& flags, const std::string& line) {
  const std::string path = flags.String("summary");
  if (path.empty()) return;
  std::ofstream out(path, std::ios::app);
  out << line << "\n";
}

std::string Format(const char* format, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, format);
  // Only ever called with literal formats; -Wformat=2 checks the callers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  const int n = std::vsnprintf(buffer, sizeof buffer, format, args);
#pragma GCC diagnostic pop
  va_end(args);
  if (n < 0) return {};
  return std::string(buffer,
                     std::min(static_cast<size_t>(n), sizeof buffer - 1));
}

}  // namespace sessionkeyring::bench
