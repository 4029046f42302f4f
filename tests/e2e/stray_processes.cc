#include "stray_processes.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

namespace sessionkeyring::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kPollInterval{20};

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

std::optional<struct stat> MountNamespaceOf(const fs::path& process) {
  struct stat namespace_file {};
  if (stat((process / "ns" / "mnt").c_str(), &namespace_file) != 0) {
    return std::nullopt;
  }
  return namespace_file;
}

// The sandbox unshares its namespace in the test process itself, so the
// parent (ctest, a shell) is still in the machine's. init's may not be
// readable, even by root, in a container or a micro-VM.
bool InPrivateMountNamespace() {
  const std::optional<struct stat> own = MountNamespaceOf("/proc/self");
  const std::optional<struct stat> parent =
      MountNamespaceOf("/proc/" + std::to_string(getppid()));
  return own && parent && !SameFile(*own, *parent);
}

// The processes in this one's mount namespace, but for this one and
// `except`; none if that namespace is the machine's.
std::vector<pid_t> StrayPids(pid_t except) {
  const std::optional<struct stat> own = MountNamespaceOf("/proc/self");
  if (!own || !InPrivateMountNamespace()) return {};

  std::vector<pid_t> strays;
  const pid_t self = getpid();
  std::error_code error;
  for (const fs::directory_entry& entry :
       fs::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    const auto [end, ec] =
        std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc() || end != name.data() + name.size() || pid == self ||
        pid == except) {
      continue;
    }
    // A zombie has no namespaces left, and so is skipped here.
    const std::optional<struct stat> theirs = MountNamespaceOf(entry.path());
    if (theirs && SameFile(*theirs, *own)) strays.push_back(pid);
  }
  return strays;
}

std::string CommandLineOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline",
                   std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string command = buffer.str();
  while (!command.empty() && command.back() == '\0') command.pop_back();
  std::replace(command.begin(), command.end(), '\0', ' ');
  return command;
}

}  // namespace

std::string WaitForStrayProcesses(std::chrono::milliseconds grace,
                                  pid_t except) {
  if (!InPrivateMountNamespace()) {
    return "cannot tell: not in a private mount namespace\n";
  }
  const Clock::time_point deadline = Clock::now() + grace;
  std::vector<pid_t> strays = StrayPids(except);
  while (!strays.empty() && Clock::now() < deadline) {
    std::this_thread::sleep_for(kPollInterval);
    strays = StrayPids(except);
  }
  std::string described;
  for (const pid_t pid : strays) {
    described += std::to_string(pid) + " " + CommandLineOf(pid) + "\n";
  }
  return described;
}

void KillStrayProcesses(pid_t except) {
  for (const pid_t pid : StrayPids(except)) kill(pid, SIGKILL);
}

}  // namespace sessionkeyring::e2e
