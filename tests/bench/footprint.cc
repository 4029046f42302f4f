// (4) What a module adds to the process that loads it.
//
// Each measurement runs in a fresh process: this driver executed again as
// `session_bench probe`, which maps only libc and libpam (and their own
// libraries), as a C host does: its C++ runtime is linked in statically
// and it makes no libkeyutils calls. So whatever a module brings along,
// libkeyutils.so or libstdc++.so, shows up as the module's cost. A fresh
// exec rather than a fork, because a forked child shares its pages with
// the driver until either writes them, which blurs what is private.
//
// Two views: dlopen of the file alone (what libpam does when a service
// names the module: RTLD_NOW), and one whole session through PAM compared
// with a stack holding only pam_permit, which also counts the pages the
// module's code touches while it runs.

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "benchmarks.h"

extern char** environ;

namespace sessionkeyring::bench {
namespace {

// What MeasureDlopen() reports, in this order.
constexpr size_t kMeasures = 5;

// From /proc/self/smaps_rollup, in KB.
struct Memory {
  double rss = 0;
  double pss = 0;
  double private_dirty = 0;
};

Memory ReadMemory() {
  Memory memory;
  std::ifstream in("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    double kb = 0;
    if (!(fields >> name >> kb)) continue;
    if (name == "Rss:") memory.rss = kb;
    if (name == "Pss:") memory.pss = kb;
    if (name == "Private_Dirty:") memory.private_dirty = kb;
  }
  return memory;
}

// The files mapped into this process.
std::set<std::string> MappedFiles() {
  std::set<std::string> files;
  std::ifstream in("/proc/self/maps");
  std::string line;
  while (std::getline(in, line)) {
    const size_t slash = line.find('/');
    if (slash != std::string::npos) files.insert(line.substr(slash));
  }
  return files;
}

// Memory figures take the least of the repetitions: the same load on the
// same machine sometimes comes out 64 KB or more higher (whole runs of
// pages the kernel maps at once, varying from one moment to the next),
// and the smallest figure is what the load itself needs.
double Least(const std::vector<double>& values) { return Quantile(values, 0); }

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// In the probe: [micros, rss, pss, private dirty, page faults] then the
// names of the files the dlopen mapped, space-separated.
int MeasureDlopen(int fd, const std::string& path) {
  const std::set<std::string> files_before = MappedFiles();
  const Memory before = ReadMemory();
  rusage usage_before{}, usage_after{};
  getrusage(RUSAGE_SELF, &usage_before);
  const Clock::time_point start = Clock::now();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  const double micros = MicrosBetween(start, Clock::now());
  getrusage(RUSAGE_SELF, &usage_after);
  if (handle == nullptr) {
    const char* error = dlerror();
    return WriteAll(fd, error != nullptr ? error : "dlopen failed"), 1;
  }
  const Memory after = ReadMemory();
  std::string added;
  for (const std::string& file : MappedFiles()) {
    if (files_before.count(file) == 0) added += BaseName(file) + " ";
  }
  const double faults =
      static_cast<double>(usage_after.ru_minflt - usage_before.ru_minflt);
  const bool written =
      WriteAll(fd,
               Encode({micros, after.rss - before.rss, after.pss - before.pss,
                       after.private_dirty - before.private_dirty, faults})) &&
      WriteAll(fd, added);
  return written ? 0 : 1;
}

// In the probe: [rss, private dirty] added by pam_start and one open/close
// cycle, with the module still loaded (before pam_end); then the time of
// pam_start (which loads the module), of that first cycle, and of pam_end
// (which unloads it), in microseconds.
int MeasureSession(int fd, const std::string& confdir,
                   const std::string& service, const std::string& user) {
  const Memory before = ReadMemory();
  std::string error;
  const Clock::time_point start = Clock::now();
  pam_handle_t* pamh = StartPam(confdir, service, user, error);
  const Clock::time_point started = Clock::now();
  if (pamh == nullptr) return WriteAll(fd, error), 1;
  const int opened = pam_open_session(pamh, 0);
  const int closed = pam_close_session(pamh, 0);
  const Clock::time_point cycled = Clock::now();
  const Memory after = ReadMemory();
  const Clock::time_point ending = Clock::now();
  pam_end(pamh, PAM_SUCCESS);
  const Clock::time_point ended = Clock::now();
  if (opened != PAM_SUCCESS || closed != PAM_SUCCESS) {
    return WriteAll(fd, service + ": the session failed"), 1;
  }
  return WriteAll(fd, Encode({after.rss - before.rss,
                              after.private_dirty - before.private_dirty,
                              MicrosBetween(start, started),
                              MicrosBetween(started, cycled),
                              MicrosBetween(ending, ended)}))
             ? 0
             : 1;
}

// Runs `session_bench probe ARGS...` and returns what it wrote on stdout.
ChildResult Probe(const std::vector<std::string>& args) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) Die("pipe2 failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  std::vector<std::string> words = {"session_bench", "probe"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr,
                                  argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (spawned != 0) Die("posix_spawn probe: " + std::string(strerror(spawned)));
  return CollectChild(pid, fds[0]);
}

}  // namespace

int RunFootprint(const Flags& flags) {
  const std::string confdir = flags.String("confdir");
  const std::string user = flags.String("user");
  const auto modules = flags.Pairs("modules");
  const auto services = flags.Pairs("services");
  const long reps = flags.Integer("reps", 15);
  if (confdir.empty() || user.empty() || modules.empty() || services.empty() ||
      reps < 1) {
    Die("footprint needs --confdir, --user, --modules and --services");
  }

  // values[module][measure]: one sample per repetition.
  std::vector<std::vector<std::vector<double>>> loads(
      modules.size(), std::vector<std::vector<double>>(kMeasures));
  std::vector<std::string> added_files(modules.size());
  for (long rep = 0; rep < reps; ++rep) {
    for (size_t turn = 0; turn < modules.size(); ++turn) {
      const size_t m = (static_cast<size_t>(rep) + turn) % modules.size();
      const ChildResult result = Probe({"--dlopen", modules[m].second});
      if (!result.ok) {
        std::printf("  FAILED: dlopen %s: %s\n", modules[m].second.c_str(),
                    result.data.c_str());
        return 1;
      }
      const size_t numbers = kMeasures * sizeof(double);
      const std::vector<double> values = Decode(result.data.substr(0, numbers));
      for (size_t k = 0; k < kMeasures; ++k) loads[m][k].push_back(values[k]);
      added_files[m] = result.data.substr(numbers);
    }
  }
  std::printf(
      "  dlopen(RTLD_NOW) in a fresh process that has libc and libpam "
      "(time: median of %ld; memory: the least of them)\n",
      reps);
  std::printf("  %-24s %9s %9s %9s %12s %7s  %s\n", "file", "time (us)",
              "Rss (KB)", "Pss (KB)", "priv. dirty", "faults",
              "files it mapped");
  for (size_t m = 0; m < modules.size(); ++m) {
    std::printf("  %-24s %9.0f %+9.0f %+9.0f %+12.0f %7.0f  %s\n",
                modules[m].first.c_str(), Median(loads[m][0]),
                Least(loads[m][1]), Least(loads[m][2]), Least(loads[m][3]),
                Median(loads[m][4]), added_files[m].c_str());
  }

  // Each pair "a/b": what a's dlopen costs beyond b's.
  for (const std::string& pair : flags.List("pairs")) {
    const size_t slash = pair.find('/');
    size_t a = modules.size(), b = modules.size();
    for (size_t m = 0; m < modules.size(); ++m) {
      if (slash != std::string::npos &&
          modules[m].first == pair.substr(0, slash))
        a = m;
      if (slash != std::string::npos &&
          modules[m].first == pair.substr(slash + 1))
        b = m;
    }
    if (a == modules.size() || b == modules.size()) {
      Die("--pairs needs a/b items naming --modules labels");
    }
    const std::string text = Format(
        "dlopen %s minus %s: %+.0f us, %+.0f KB Rss, %+.0f KB private dirty",
        modules[a].first.c_str(), modules[b].first.c_str(),
        Median(loads[a][0]) - Median(loads[b][0]),
        Least(loads[a][1]) - Least(loads[b][1]),
        Least(loads[a][3]) - Least(loads[b][3]));
    std::printf("  %s\n", text.c_str());
    AddToSummary(flags, "(4) " + text);
  }

  constexpr size_t kSessionMeasures = 5;
  std::vector<std::vector<std::vector<double>>> sessions(
      services.size(), std::vector<std::vector<double>>(kSessionMeasures));
  for (long rep = 0; rep < reps; ++rep) {
    for (size_t turn = 0; turn < services.size(); ++turn) {
      const size_t s = (static_cast<size_t>(rep) + turn) % services.size();
      const ChildResult result = Probe({"--confdir", confdir, "--service",
                                        services[s].second, "--user", user});
      if (!result.ok) {
        std::printf("  FAILED: %s\n", result.data.c_str());
        return 1;
      }
      const std::vector<double> values = Decode(result.data);
      for (size_t k = 0; k < kSessionMeasures; ++k) {
        sessions[s][k].push_back(values[k]);
      }
    }
  }
  std::printf(
      "\n  one session in a fresh process: the memory pam_start and one "
      "open/close cycle add (the\n  module still loaded; the least of %ld) "
      "and the time of each step (median)\n",
      reps);
  std::printf("  %-24s %9s %12s %11s %11s %11s\n", "service", "Rss (KB)",
              "priv. dirty", "pam_start", "first cycle", "pam_end");
  for (size_t s = 0; s < services.size(); ++s) {
    std::printf("  %-24s %+9.0f %+12.0f %9.0f us %8.0f us %8.0f us\n",
                services[s].first.c_str(), Least(sessions[s][0]),
                Least(sessions[s][1]), Median(sessions[s][2]),
                Median(sessions[s][3]), Median(sessions[s][4]));
  }
  std::string added = "(4) pam_start + one session in a fresh process adds";
  for (size_t s = 0; s < services.size(); ++s) {
    added += Format(" %s %+.0f KB Rss (%+.0f KB private dirty)%s",
                    services[s].first.c_str(), Least(sessions[s][0]),
                    Least(sessions[s][1]), s + 1 < services.size() ? "," : "");
  }
  AddToSummary(flags, added);
  return 0;
}

int RunProbe(const Flags& flags) {
  const std::string path = flags.String("dlopen");
  if (!path.empty()) return MeasureDlopen(1, path);
  return MeasureSession(1, flags.String("confdir"), flags.String("service"),
                        flags.String("user"));
}

}  // namespace sessionkeyring::bench
