// (5) Sessions per second with several worker processes at once.
//
// Each worker opens and closes sessions for the same user as fast as it
// can for a fixed time, all workers starting together. Two modes:
// - inprocess: each session is a fresh handle (pam_start, open_session,
//   close_session, pam_end), with the stack's modules kept loaded by one
//   idle handle per worker, so that the figure is the session work and
//   the kernel's keyring paths under contention, not module loading;
// - pamtester: each session is a whole pamtester process, as logins are.

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "benchmarks.h"

namespace sessionkeyring::bench {
namespace {

struct WorkerResult {
  double sessions = 0;
  double failures = 0;
  double seconds = 0;
};

// One session in the worker; false if any step failed.
bool OneSession(bool in_process, const std::string& confdir,
                const std::string& service, const std::string& user) {
  if (!in_process) {
    PamtesterRun run;
    return RunPamtester(service, user, run).empty();
  }
  std::string error;
  pam_handle_t* pamh = StartPam(confdir, service, user, error);
  if (pamh == nullptr) return false;
  const int opened = pam_open_session(pamh, 0);
  const int closed = pam_close_session(pamh, 0);
  pam_end(pamh, PAM_SUCCESS);
  return opened == PAM_SUCCESS && closed == PAM_SUCCESS;
}

// The body of a worker process: get ready, say so on `ready`, wait for
// `go` to close, then run sessions for `seconds` and report on `out`.
[[noreturn]] void Worker(int ready, int go, int out, bool in_process,
                         const std::string& confdir, const std::string& service,
                         const std::string& user, double seconds) {
  std::string error;
  pam_handle_t* keeper =
      in_process ? StartPam(confdir, service, user, error) : nullptr;
  const char byte = 1;
  if ((in_process && keeper == nullptr) || !WriteAll(ready, &byte, 1)) {
    _exit(1);
  }
  char ignored;
  while (read(go, &ignored, 1) < 0 && errno == EINTR) {
  }

  WorkerResult result;
  const Clock::time_point start = Clock::now();
  do {
    if (OneSession(in_process, confdir, service, user)) {
      ++result.sessions;
    } else {
      ++result.failures;
    }
    result.seconds = MicrosBetween(start, Clock::now()) / 1e6;
  } while (result.seconds < seconds);
  if (keeper != nullptr) pam_end(keeper, PAM_SUCCESS);
  _exit(WriteAll(out, &result, sizeof result) ? 0 : 1);
}

// Runs `workers` workers at once; returns the sessions per second of all
// of them together, and counts failed sessions into `failures`.
double SessionsPerSecond(long workers, bool in_process,
                         const std::string& confdir, const std::string& service,
                         const std::string& user, double seconds,
                         double& failures) {
  int ready[2], go[2];
  if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0) {
    Die("pipe2 failed");
  }
  std::vector<pid_t> pids;
  std::vector<int> outs;
  std::fflush(stdout);
  for (long w = 0; w < workers; ++w) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) Die("pipe2 failed");
    const pid_t pid = fork();
    if (pid < 0) Die("fork failed");
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      // Only the parent may hold the write end of `go`: its closing is
      // the start signal.
      close(go[1]);
      Worker(ready[1], go[0], out[1], in_process, confdir, service, user,
             seconds);
    }
    close(out[1]);
    pids.push_back(pid);
    outs.push_back(out[0]);
  }
  close(ready[1]);
  close(go[0]);
  for (long w = 0; w < workers; ++w) {
    char byte;
    if (read(ready[0], &byte, 1) != 1) Die("a worker failed to start");
  }
  close(go[1]);

  double rate = 0;
  failures = 0;
  for (size_t w = 0; w < pids.size(); ++w) {
    WorkerResult result;
    const std::string data = ReadAll(outs[w]);
    close(outs[w]);
    int status = 0;
    waitpid(pids[w], &status, 0);
    if (data.size() != sizeof result) Die("a worker failed");
    std::memcpy(&result, data.data(), sizeof result);
    rate += result.sessions / result.seconds;
    failures += result.failures;
  }
  close(ready[0]);
  return rate;
}

}  // namespace

int RunScale(const Flags& flags) {
  const std::string confdir = flags.String("confdir");
  const std::string user = flags.String("user");
  const auto services = flags.Pairs("services");
  const std::string mode = flags.String("mode", "inprocess");
  const double seconds =
      static_cast<double>(flags.Integer("millis", 200)) / 1000;
  const long slice_count = flags.Integer("slices", 5);
  if (confdir.empty() || user.empty() || services.empty() || slice_count < 1 ||
      (mode != "inprocess" && mode != "pamtester")) {
    Die("scale needs --confdir, --user, --services and a known --mode");
  }
  const bool in_process = mode == "inprocess";

  std::vector<long> worker_counts = flags.Integers("workers");
  if (worker_counts.empty()) worker_counts = {1, 2, 8};
  for (const long workers : worker_counts) {
    if (workers < 1) Die("--workers needs positive counts");
  }

  // The pair "a/b" whose ratio each row ends with.
  const std::string pair = flags.String("pair");
  const size_t slash = pair.find('/');
  size_t a = services.size(), b = services.size();
  for (size_t s = 0; s < services.size(); ++s) {
    if (slash != std::string::npos &&
        services[s].first == pair.substr(0, slash))
      a = s;
    if (slash != std::string::npos &&
        services[s].first == pair.substr(slash + 1))
      b = s;
  }
  if (a == services.size() || b == services.size()) {
    Die("--pair needs a/b, two labels of --services");
  }

  std::printf("  %-8s", "workers");
  for (const auto& service : services) {
    std::printf(" %20s", service.first.c_str());
  }
  std::printf(" %20s\n", pair.c_str());
  std::string summary;
  for (size_t row = 0; row < worker_counts.size(); ++row) {
    const long workers = worker_counts[row];
    // Short slices, the services taking turns, and the median slice of
    // each: the machine is shared, and a one-off burst of other work
    // then spoils one slice rather than one service's figure.
    std::vector<std::vector<double>> slices(services.size());
    double failures = 0;
    for (long slice = 0; slice < slice_count; ++slice) {
      for (size_t turn = 0; turn < services.size(); ++turn) {
        const size_t s =
            (row + static_cast<size_t>(slice) + turn) % services.size();
        double failed = 0;
        slices[s].push_back(SessionsPerSecond(workers, in_process, confdir,
                                              services[s].second, user, seconds,
                                              failed));
        failures += failed;
      }
    }
    std::vector<double> rates;
    for (const std::vector<double>& rates_of_service : slices) {
      rates.push_back(Median(rates_of_service));
    }
    std::printf("  %-8ld", workers);
    for (double rate : rates) std::printf(" %20.0f", rate);
    std::printf(" %20.2f\n", rates[a] / rates[b]);
    if (failures > 0) {
      std::printf("  FAILED: %.0f sessions failed with %ld workers\n", failures,
                  workers);
      AddToSummary(flags, Format("(5) FAILED: %.0f sessions failed (%s)",
                                 failures, mode.c_str()));
      return 1;
    }
    summary += Format("%s%ld: %.0f/%.0f = %.2f", row == 0 ? "" : "; ", workers,
                      rates[a], rates[b], rates[a] / rates[b]);
  }
  AddToSummary(flags, Format("(5) sessions/s (%s), %s, by workers: ",
                             mode.c_str(), pair.c_str()) +
                          summary);
  return 0;
}

}  // namespace sessionkeyring::bench
