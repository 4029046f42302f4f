// (2) Open/close cycles on one PAM handle, and (3) the same kernel calls
// made directly, with no PAM at all.
//
// Why one handle: a long-lived host (a display manager, a daemon that
// runs jobs for users) may open and close many sessions on one handle, and
// any per-call leftover on the handle makes each later call slower.
// pam_keyinit has one (pam_modutil_getpwnam stores its result on the
// handle under a new name at every call, and libpam looks data up by a
// linear search), which is why the cost is taken at 100 and at 1000
// cycles per handle.
//
// Why pam_permit: a stack holding only pam_permit costs what libpam itself
// costs per cycle (dispatch, and on Debian an audit message per call).
// Subtracting it leaves each module's own share.
//
// Why the floor: the module cannot be cheaper than the system calls it
// has to make. The floor makes exactly the calls strace shows the module
// making for one `force revoke` session, plus the one getpwnam_r it needs
// to learn the user's IDs.

#include <errno.h>
#include <linux/keyctl.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "benchmarks.h"
#include "thread_id_syscalls.h"

namespace sessionkeyring::bench {
namespace {

// The per-thread ID calls the module makes.
using thread_ids::kGetresgid;
using thread_ids::kGetresuid;
using thread_ids::kSetresgid;
using thread_ids::kSetresuid;

enum class Kind { kPam, kFloor, kFloorWithLookups };

struct Stack {
  std::string label;
  Kind kind = Kind::kPam;
  std::string service;  // for kPam
};

struct Ids {
  uid_t ruid = 0, euid = 0, suid = 0;
  gid_t rgid = 0, egid = 0, sgid = 0;
  bool operator==(const Ids&) const = default;
};

bool GetIds(Ids& ids) {
  return syscall(kGetresuid, &ids.ruid, &ids.euid, &ids.suid) == 0 &&
         syscall(kGetresgid, &ids.rgid, &ids.egid, &ids.sgid) == 0;
}

bool SetIds(const Ids& ids) {
  // As the module restores: uid first, while the effective uid may still
  // be needed to set the gids.
  return syscall(kSetresuid, ids.ruid, ids.euid, ids.suid) == 0 &&
         syscall(kSetresgid, ids.rgid, ids.egid, ids.sgid) == 0;
}

// One session's worth of the module's kernel work, in its order: look the
// user up; read the IDs; switch gid then uid (real only); read them back;
// join a new session keyring; link @u into it; restore uid then gid; read
// them back; at close, revoke. `lookups` adds the @s and @us lookups the
// module makes only without `force`. Returns an error message or "".
std::string FloorSession(const std::string& user, bool lookups) {
  passwd entry{};
  passwd* found = nullptr;
  char buffer[1024];
  if (getpwnam_r(user.c_str(), &entry, buffer, sizeof buffer, &found) != 0 ||
      found == nullptr) {
    return "getpwnam_r " + user + " failed";
  }

  Ids saved;
  if (!GetIds(saved)) return "getresuid/getresgid failed";
  Ids wanted = saved;
  wanted.ruid = found->pw_uid;
  wanted.rgid = found->pw_gid;
  if (syscall(kSetresgid, wanted.rgid, wanted.egid, wanted.sgid) != 0 ||
      syscall(kSetresuid, wanted.ruid, wanted.euid, wanted.suid) != 0) {
    return "switching IDs failed (run as root)";
  }
  Ids now;
  if (!GetIds(now) || !(now == wanted)) return "IDs read back wrong";

  if (lookups) {
    Keyctl(KEYCTL_GET_KEYRING_ID, KeyArg(KEY_SPEC_SESSION_KEYRING), 0);
    Keyctl(KEYCTL_GET_KEYRING_ID, KeyArg(KEY_SPEC_USER_SESSION_KEYRING), 0);
  }
  const long keyring = Keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0);
  const bool linked =
      keyring >= 0 &&
      Keyctl(KEYCTL_LINK, KeyArg(KEY_SPEC_USER_KEYRING), KeyArg(keyring)) == 0;
  const int error = errno;

  if (!SetIds(saved) || !GetIds(now) || !(now == saved)) {
    return "restoring IDs failed";
  }
  if (!linked) return Format("join or link failed: errno %d", error);
  if (Keyctl(KEYCTL_REVOKE, KeyArg(keyring)) != 0) return "revoke failed";
  return {};
}

// Times `cycles` open/close cycles on one handle, in a child. The child
// sends back how many keys the user had charged to its quota right after
// the last cycle, then the time of each cycle in microseconds; or an error
// message.
ChildResult TimeHandle(const Stack& stack, const std::string& confdir,
                       const std::string& user, long cycles) {
  return RunInChild([&](int fd) {
    const uid_t uid = LookUpUser(user).uid;
    std::vector<double> times(static_cast<size_t>(cycles));
    if (stack.kind != Kind::kPam) {
      const bool lookups = stack.kind == Kind::kFloorWithLookups;
      for (double& time : times) {
        const Clock::time_point start = Clock::now();
        const std::string error = FloorSession(user, lookups);
        time = MicrosBetween(start, Clock::now());
        if (!error.empty()) return WriteAll(fd, error), 1;
      }
    } else {
      std::string error;
      pam_handle_t* pamh = StartPam(confdir, stack.service, user, error);
      if (pamh == nullptr) return WriteAll(fd, error), 1;
      for (size_t i = 0; i < times.size(); ++i) {
        const Clock::time_point start = Clock::now();
        const int opened = pam_open_session(pamh, 0);
        const int closed = pam_close_session(pamh, 0);
        times[i] = MicrosBetween(start, Clock::now());
        if (opened != PAM_SUCCESS || closed != PAM_SUCCESS) {
          WriteAll(
              fd, Format("%s, cycle %zu: open: %s; close: %s",
                         stack.label.c_str(), i + 1, pam_strerror(pamh, opened),
                         pam_strerror(pamh, closed)));
          return 1;
        }
      }
      pam_end(pamh, PAM_SUCCESS);
    }
    const double keys = static_cast<double>(KeyUsageOf(uid).keys);
    return WriteAll(fd, Encode({keys})) && WriteAll(fd, Encode(times)) ? 0 : 1;
  });
}

// Every handle's cycle times, for one stack and one handle length.
using Handles = std::vector<std::vector<double>>;

// The typical cycle of each handle (its median), and the median of those
// over the handles. Medians, because the machine may be shared: a cycle
// that other work preempts takes up to a scheduler tick (milliseconds),
// which would swamp a mean of 30 us cycles. For a cost that grows along the
// handle (pam_keyinit's), the median is the cost halfway along.
double TypicalCycle(const Handles& handles) {
  std::vector<double> medians;
  for (const std::vector<double>& times : handles) {
    medians.push_back(Median(times));
  }
  return Median(medians);
}

// The mean cycle of each handle, preemptions and the first cycle's
// one-time work included, and the median of those over the handles.
double MeanCycle(const Handles& handles) {
  std::vector<double> means;
  for (const std::vector<double>& times : handles) {
    means.push_back(Mean(times));
  }
  return Median(means);
}

// The median cycle among cycles [first, last) of every handle.
double WindowCost(const Handles& handles, size_t first, size_t last) {
  std::vector<double> pooled;
  for (const std::vector<double>& times : handles) {
    for (size_t i = first; i < last && i < times.size(); ++i) {
      pooled.push_back(times[i]);
    }
  }
  return Median(pooled);
}

const char* Verdict(bool met) { return met ? "met" : "NOT MET"; }

}  // namespace

int RunCycles(const Flags& flags) {
  const std::string confdir = flags.String("confdir");
  const std::string user = flags.String("user");
  const long short_cycles = flags.Integer("short", 100);
  const long long_cycles = flags.Integer("long", 1000);
  const long short_handles = flags.Integer("short-handles", 15);
  const long long_handles = flags.Integer("long-handles", 3);
  if (confdir.empty() || user.empty() || short_cycles < 1 ||
      long_cycles < short_cycles || short_handles < 1 || long_handles < 1) {
    Die("cycles needs --confdir, --user and sensible counts");
  }
  const std::vector<Stack> stacks = {
      {"pam_permit only", Kind::kPam, flags.String("permit")},
      {"pam_sessionkeyring", Kind::kPam, flags.String("ours")},
      {"pam_keyinit", Kind::kPam, flags.String("reference")},
      {"floor: kernel calls alone", Kind::kFloor, ""},
      {"floor + @s/@us lookups", Kind::kFloorWithLookups, ""},
  };
  enum { kPermit, kOurs, kReference, kFloor, kFloorLookups };

  // samples[stack][0] for the short handles, [1] for the long ones. The
  // stacks take turns, in a rotating order, so that a slow spell of the
  // machine is spread over all of them.
  std::vector<std::vector<Handles>> samples(stacks.size(),
                                            std::vector<Handles>(2));
  double peak_keys = 0;
  const long cycles_of[2] = {short_cycles, long_cycles};
  const long handles_of[2] = {short_handles, long_handles};
  for (size_t length = 0; length < 2; ++length) {
    for (long round = 0; round < handles_of[length]; ++round) {
      for (size_t turn = 0; turn < stacks.size(); ++turn) {
        const size_t s = (static_cast<size_t>(round) + turn) % stacks.size();
        const ChildResult result =
            TimeHandle(stacks[s], confdir, user, cycles_of[length]);
        if (!result.ok) {
          std::printf("  FAILED: %s: %s\n", stacks[s].label.c_str(),
                      result.data.c_str());
          AddToSummary(flags, "(2) FAILED: " + result.data);
          return 1;
        }
        std::vector<double> values = Decode(result.data);
        peak_keys = std::max(peak_keys, values.front());
        values.erase(values.begin());
        samples[s][length].push_back(std::move(values));
      }
    }
  }

  std::vector<std::array<double, 2>> cost(stacks.size());
  std::vector<std::array<double, 2>> mean(stacks.size());
  for (size_t s = 0; s < stacks.size(); ++s) {
    for (size_t length = 0; length < 2; ++length) {
      cost[s][length] = TypicalCycle(samples[s][length]);
      mean[s][length] = MeanCycle(samples[s][length]);
    }
  }
  const auto share = [&](size_t s, size_t length) {
    return cost[s][length] - cost[kPermit][length];
  };

  std::printf(
      "  median open+close cycle, median over handles (%ld handles of %ld "
      "cycles, %ld of %ld), microseconds\n",
      short_handles, short_cycles, long_handles, long_cycles);
  std::printf("  %-36s %14s %14s %18s\n", "",
              Format("%ld/handle", short_cycles).c_str(),
              Format("%ld/handle", long_cycles).c_str(), "(means)");
  for (size_t s : {kPermit, kOurs, kReference}) {
    std::printf("  %-36s %14.1f %14.1f %18s\n", stacks[s].label.c_str(),
                cost[s][0], cost[s][1],
                Format("(%.0f, %.0f)", mean[s][0], mean[s][1]).c_str());
  }
  std::printf("  module's own share (cycle minus pam_permit only):\n");
  for (size_t s : {kOurs, kReference}) {
    std::printf("  %-36s %14.1f %14.1f\n", ("  " + stacks[s].label).c_str(),
                share(s, 0), share(s, 1));
  }
  const double ratio_short = share(kOurs, 0) / share(kReference, 0);
  const double ratio_long = share(kOurs, 1) / share(kReference, 1);
  std::printf("  %-36s %14.2f %14.2f\n", "  ratio pam_sessionkeyring/keyinit",
              ratio_short, ratio_long);

  // Where on a long handle the time goes: the first, a middle and the
  // last hundred cycles.
  const size_t window = static_cast<size_t>(short_cycles);
  const size_t last = static_cast<size_t>(long_cycles);
  const size_t middle = std::max(last * 6 / 10, window);
  std::printf(
      "\n  cost by position on a %ld-cycle handle (median cycle, "
      "microseconds)\n",
      long_cycles);
  std::printf("  %-36s %14s %14s %14s\n", "",
              Format("cycles 1-%zu", window).c_str(),
              Format("%zu-%zu", middle - window + 1, middle).c_str(),
              Format("%zu-%zu", last - window + 1, last).c_str());
  std::vector<double> early(stacks.size()), late(stacks.size());
  for (size_t s = 0; s < stacks.size(); ++s) {
    early[s] = WindowCost(samples[s][1], 0, window);
    late[s] = WindowCost(samples[s][1], last - window, last);
    std::printf("  %-36s %14.1f %14.1f %14.1f\n", stacks[s].label.c_str(),
                early[s], WindowCost(samples[s][1], middle - window, middle),
                late[s]);
  }

  const double growth_typical = cost[kOurs][1] / cost[kOurs][0];
  const double growth_window = late[kOurs] / early[kOurs];
  const double reference_growth = late[kReference] / early[kReference];
  std::printf(
      "\n  growth of the pam_sessionkeyring cycle, %ld vs %ld cycles/handle: "
      "x%.2f (median cycle); last %zu vs first %zu cycles: x%.2f "
      "(pam_keyinit: x%.2f)\n",
      long_cycles, short_cycles, growth_typical, window, window, growth_window,
      reference_growth);

  // A closed session's keyring is only uncharged when the last reference
  // to it goes, after an RCU grace period: a thread that opens sessions
  // back to back has many of them in flight. run raises the key quota
  // for these loops, so that none of them meets EDQUOT.
  std::printf(
      "  keys charged to the user right after a handle's last cycle: up to "
      "%.0f (closed sessions' keyrings not yet released)\n",
      peak_keys);

  AddToSummary(flags,
               Format("(2) module's own share per cycle, pam_sessionkeyring/"
                      "pam_keyinit, %ld cycles/handle: %.1f/%.1f us = %.2f "
                      "(target <= 1.00): %s",
                      short_cycles, share(kOurs, 0), share(kReference, 0),
                      ratio_short, Verdict(ratio_short <= 1.0)));
  AddToSummary(flags,
               Format("(2) module's own share per cycle, pam_sessionkeyring/"
                      "pam_keyinit, %ld cycles/handle: %.1f/%.1f us = %.2f "
                      "(target <= 1.00): %s",
                      long_cycles, share(kOurs, 1), share(kReference, 1),
                      ratio_long, Verdict(ratio_long <= 1.0)));
  const bool flat = growth_typical <= 1.2 && growth_window <= 1.2;
  AddToSummary(flags,
               Format("(2) pam_sessionkeyring cycle at %ld vs %ld "
                      "cycles/handle: x%.2f, last vs first %zu cycles x%.2f "
                      "(target <= x1.2): %s",
                      long_cycles, short_cycles, growth_typical, window,
                      growth_window, Verdict(flat)));

  std::printf(
      "\n== (3) The floor: the module's kernel calls for one session, no PAM\n"
      "  getpwnam_r; getresuid, getresgid; setresgid, setresuid (real IDs, "
      "raw per-thread syscalls);\n"
      "  getresuid, getresgid; keyctl JOIN_SESSION_KEYRING; keyctl LINK @u; "
      "setresuid, setresgid;\n"
      "  getresuid, getresgid; keyctl REVOKE. These are the calls strace "
      "shows for `force revoke`,\n"
      "  which looks up neither @s nor @us; the second line adds those two "
      "lookups (made without `force`).\n");
  std::printf("  %-36s %14s %14s\n", "",
              Format("%ld/loop", short_cycles).c_str(),
              Format("%ld/loop", long_cycles).c_str());
  for (size_t s : {kFloor, kFloorLookups}) {
    std::printf("  %-36s %14.1f %14.1f\n", stacks[s].label.c_str(), cost[s][0],
                cost[s][1]);
  }
  const double above_short = share(kOurs, 0) / cost[kFloor][0];
  const double above_long = share(kOurs, 1) / cost[kFloor][1];
  std::printf("  %-36s %14.2f %14.2f\n", "pam_sessionkeyring share / floor",
              above_short, above_long);
  std::printf("  %-36s %14.2f %14.2f\n", "pam_keyinit share / floor",
              share(kReference, 0) / cost[kFloor][0],
              share(kReference, 1) / cost[kFloor][1]);
  AddToSummary(flags, Format("(3) pam_sessionkeyring's own share / floor: "
                             "x%.2f at %ld, x%.2f at %ld cycles/handle "
                             "(floor %.1f us; target <= x2): %s",
                             above_short, short_cycles, above_long, long_cycles,
                             cost[kFloor][0],
                             Verdict(above_short <= 2 && above_long <= 2)));
  return 0;
}

}  // namespace sessionkeyring::bench
