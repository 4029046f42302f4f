// (1) Whole processes: `pamtester SERVICE USER open_session close_session`,
// from spawn to exit, for each service in turn.
//
// This is what every login, su or cron job pays: starting a process that
// loads libpam, reads the service, loads the module (and whatever the
// module links), runs one session and exits. The services take turns run
// by run, in an order that rotates every round, so that a slow spell of
// the machine hits them all alike; each round gives one ratio of medians,
// and the report takes the median of those ratios.

#include <cstdio>
#include <string>
#include <vector>

#include "benchmarks.h"

namespace sessionkeyring::bench {
namespace {

// Untimed runs of each service for its peak RSS.
constexpr int kPeakRssRuns = 5;

size_t IndexOf(const std::vector<std::pair<std::string, std::string>>& pairs,
               const std::string& label) {
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].first == label) return i;
  }
  Die("no service labelled " + label);
}

}  // namespace

int RunProcesses(const Flags& flags) {
  const std::string user = flags.String("user");
  const auto services = flags.Pairs("services");
  const long rounds = flags.Integer("rounds", 20);
  const long runs = flags.Integer("runs", 20);
  const size_t baseline = IndexOf(services, flags.String("baseline"));
  if (user.empty() || services.empty() || rounds < 1 || runs < 1) {
    Die("processes needs --user, --services and positive counts");
  }

  // [kWall] and [kCpu][service][round]: microseconds of each run. Wall
  // time is what a login waits; CPU time leaves out the time other work
  // on a shared machine takes the CPU away, so it is the steadier of the
  // two when the machine is busy.
  enum { kWall, kCpu };
  const size_t count = services.size();
  std::vector<std::vector<std::vector<std::vector<double>>>> times(
      2, std::vector<std::vector<std::vector<double>>>(
             count,
             std::vector<std::vector<double>>(static_cast<size_t>(rounds))));
  std::vector<std::vector<double>> rss(count);
  for (size_t round = 0; round < static_cast<size_t>(rounds); ++round) {
    for (long i = 0; i < runs; ++i) {
      for (size_t turn = 0; turn < count; ++turn) {
        const size_t s = (round + turn) % count;
        PamtesterRun run;
        if (const std::string error =
                RunPamtester(services[s].second, user, run);
            !error.empty()) {
          std::printf("  FAILED: %s\n", error.c_str());
          AddToSummary(flags, "(1) FAILED: " + error);
          return 1;
        }
        times[kWall][s][round].push_back(run.micros);
        times[kCpu][s][round].push_back(run.cpu_micros);
      }
    }
  }
  // Peak RSS from a few untimed runs of each (see PamtesterPeakRss).
  for (size_t s = 0; s < count; ++s) {
    for (int i = 0; i < kPeakRssRuns; ++i) {
      double kb = 0;
      if (const std::string error =
              PamtesterPeakRss(services[s].second, user, kb);
          !error.empty()) {
        std::printf("  FAILED: %s\n", error.c_str());
        AddToSummary(flags, "(1) FAILED: " + error);
        return 1;
      }
      rss[s].push_back(kb);
    }
  }

  // median[kind][service] over every run.
  std::vector<std::vector<double>> median(2, std::vector<double>(count));
  for (size_t kind : {kWall, kCpu}) {
    for (size_t s = 0; s < count; ++s) {
      std::vector<double> all;
      for (const std::vector<double>& round : times[kind][s]) {
        all.insert(all.end(), round.begin(), round.end());
      }
      median[kind][s] = Median(all);
    }
  }
  std::printf(
      "  %ld rounds x %ld runs of each service, taking turns; medians\n",
      rounds, runs);
  std::printf("  %-22s %11s %11s %11s %11s %14s\n", "", "wall (ms)",
              Format("vs %s", services[baseline].first.c_str()).c_str(),
              "CPU (ms)",
              Format("vs %s", services[baseline].first.c_str()).c_str(),
              "peak RSS (KB)");
  for (size_t s = 0; s < count; ++s) {
    std::printf("  %-22s %11.3f %+11.3f %11.3f %+11.3f %14.0f\n",
                services[s].first.c_str(), median[kWall][s] / 1000,
                (median[kWall][s] - median[kWall][baseline]) / 1000,
                median[kCpu][s] / 1000,
                (median[kCpu][s] - median[kCpu][baseline]) / 1000,
                Median(rss[s]));
  }

  std::string peaks = "(4) pamtester peak RSS (KB):";
  for (size_t s = 0; s < count; ++s) {
    peaks += Format(" %s %.0f%s", services[s].first.c_str(), Median(rss[s]),
                    s + 1 < count ? "," : "");
  }
  AddToSummary(flags, peaks);

  // Each pair "a/b": the ratio of a's median to b's in each round, and
  // the median and quartiles of those ratios. A pair written "a/b=title"
  // is a target, a no slower than b, and goes to the summary under that
  // title with its verdict.
  for (const std::string& item : flags.List("pairs")) {
    const size_t equals = item.find('=');
    const std::string pair = item.substr(0, equals);
    const size_t slash = pair.find('/');
    if (slash == std::string::npos) Die("--pairs needs a/b items");
    const size_t a = IndexOf(services, pair.substr(0, slash));
    const size_t b = IndexOf(services, pair.substr(slash + 1));
    std::string text = pair + ":";
    double wall_ratio = 0;
    for (size_t kind : {kWall, kCpu}) {
      std::vector<double> ratios;
      for (size_t round = 0; round < static_cast<size_t>(rounds); ++round) {
        ratios.push_back(Median(times[kind][a][round]) /
                         Median(times[kind][b][round]));
      }
      const double ratio = Median(ratios);
      if (kind == kWall) wall_ratio = ratio;
      text +=
          Format(" %s %.3f (quartiles %.3f-%.3f, %+.0f us)%s",
                 kind == kWall ? "wall" : "CPU", ratio, Quantile(ratios, 0.25),
                 Quantile(ratios, 0.75), median[kind][a] - median[kind][b],
                 kind == kWall ? ";" : "");
    }
    std::printf("  ratio %s\n", text.c_str());
    if (equals == std::string::npos) {
      AddToSummary(flags, "(1) whole process, " + text);
    } else {
      AddToSummary(flags, item.substr(equals + 1) + ", " + text +
                              Format(" (target: wall <= 1.00): %s",
                                     wall_ratio <= 1.0 ? "met" : "NOT MET"));
    }
  }
  return 0;
}

}  // namespace sessionkeyring::bench
