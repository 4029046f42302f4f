#include "session_load.h"

#include <errno.h>
#include <fcntl.h>
#include <keyutils.h>
#include <poll.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <utility>

#include "user_keyrings.h"

namespace sessionkeyring::load {
namespace {

using Clock = std::chrono::steady_clock;

// How often the coordinator reads /proc/key-users while the workers run.
constexpr std::chrono::milliseconds kSampleInterval{10};

struct User {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct Plan {
  std::string service;
  long workers = 0;
  long cycles = 0;
  std::vector<User> users;
};

// What one worker sends back through its pipe, as raw bytes: both ends are
// the same binary.
struct WorkerTally {
  long sessions = 0;
  long opened = 0;
  long closed = 0;
  long start_failed = 0;
  long open_failed = 0;
  long close_failed = 0;
  long not_users_keyring = 0;
  long not_revoked = 0;
  long ids_not_restored = 0;
  long left_in_thread_keyring = 0;
  char first_problem[256] = {};
};

// The report's counters, by the names Render() and Parse() use.
constexpr std::pair<const char*, long LoadReport::*> kCounters[] = {
    {"workers", &LoadReport::workers},
    {"cycles_per_worker", &LoadReport::cycles_per_worker},
    {"sessions", &LoadReport::sessions},
    {"opened", &LoadReport::opened},
    {"closed", &LoadReport::closed},
    {"start_failed", &LoadReport::start_failed},
    {"open_failed", &LoadReport::open_failed},
    {"close_failed", &LoadReport::close_failed},
    {"not_users_keyring", &LoadReport::not_users_keyring},
    {"not_revoked", &LoadReport::not_revoked},
    {"ids_not_restored", &LoadReport::ids_not_restored},
    {"left_in_thread_keyring", &LoadReport::left_in_thread_keyring},
    {"workers_lost", &LoadReport::workers_lost},
    {"peak_keys_all_users", &LoadReport::peak_keys_all_users},
    {"peak_keys_root", &LoadReport::peak_keys_root},
    {"samples", &LoadReport::samples},
};

// Every session is for a user given to pam_start, so no module of the
// stack has anything to ask.
int RefuseConversation(int /*count*/, const pam_message** /*messages*/,
                       pam_response** /*responses*/, void* /*data*/) {
  return PAM_CONV_ERR;
}

constexpr pam_conv kConversation = {RefuseConversation, nullptr};

// The calling process's six IDs.
struct Ids {
  uid_t ruid = 0, euid = 0, suid = 0;
  gid_t rgid = 0, egid = 0, sgid = 0;
  bool operator==(const Ids&) const = default;
};

Ids CurrentIds() {
  Ids ids;
  getresuid(&ids.ruid, &ids.euid, &ids.suid);
  getresgid(&ids.rgid, &ids.egid, &ids.sgid);
  return ids;
}

std::string Describe(const Ids& ids) {
  return "uid " + std::to_string(ids.ruid) + "/" + std::to_string(ids.euid) +
         "/" + std::to_string(ids.suid) + " gid " + std::to_string(ids.rgid) +
         "/" + std::to_string(ids.egid) + "/" + std::to_string(ids.sgid);
}

void Note(WorkerTally& tally, const std::string& problem) {
  if (tally.first_problem[0] != '\0') return;
  std::snprintf(tally.first_problem, sizeof tally.first_problem, "%s",
                problem.c_str());
}

// Why the calling process's session keyring is not a fresh keyring of
// `user` as pam_keyinit makes it ("_ses", owned by the user's uid and
// gid), or "" if it is. `serial` gets the keyring's serial; `previous` is
// the one the last session had, which a fresh keyring cannot be.
std::string CheckSessionKeyring(const User& user, key_serial_t previous,
                                key_serial_t& serial) {
  serial = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
  if (serial < 0) {
    return std::string("no session keyring: ") + std::strerror(errno);
  }
  char text[256];
  const long length = keyctl_describe(serial, text, sizeof text);
  if (length < 0) {
    return "cannot describe the session keyring " + std::to_string(serial) +
           ": " + std::strerror(errno);
  }
  // "type;uid;gid;permissions;description", and its length counts the
  // terminating NUL.
  text[sizeof text - 1] = '\0';
  std::vector<std::string> fields;
  std::istringstream in{std::string(text)};
  for (std::string field; std::getline(in, field, ';');) {
    fields.push_back(field);
  }
  std::string whole;
  for (const std::string& field : fields) whole += field + ";";
  if (fields.size() != 5 || fields[0] != "keyring" || fields[4] != "_ses" ||
      fields[1] != std::to_string(user.uid) ||
      fields[2] != std::to_string(user.gid)) {
    return "the session keyring of " + user.name + " is " +
           std::to_string(serial) + " " + whole;
  }
  if (serial == previous) {
    return "the session of " + user.name + " kept keyring " +
           std::to_string(serial) + " of the session before";
  }
  return {};
}

// How many keys the calling thread's thread keyring holds; 0 if it has
// none. -1 if it cannot be read.
long KeysInThreadKeyring() {
  const key_serial_t thread = keyctl_get_keyring_ID(KEY_SPEC_THREAD_KEYRING, 0);
  if (thread < 0) return errno == ENOKEY ? 0 : -1;
  const long size = keyctl_read(thread, nullptr, 0);
  if (size < 0) return -1;
  return size / static_cast<long>(sizeof(key_serial_t));
}

// One session: a handle of its own, as every login has, opened, checked,
// closed, checked, ended.
void OneSession(const std::string& service, const User& user, long cycle,
                const Ids& ids_before, key_serial_t& previous,
                WorkerTally& tally) {
  const std::string where =
      "cycle " + std::to_string(cycle) + " for " + user.name + ": ";
  ++tally.sessions;
  pam_handle_t* pamh = nullptr;
  const int started =
      pam_start(service.c_str(), user.name.c_str(), &kConversation, &pamh);
  if (started != PAM_SUCCESS) {
    ++tally.start_failed;
    Note(tally, where + "pam_start returned " + std::to_string(started));
    return;
  }

  const int opened = pam_open_session(pamh, 0);
  if (opened != PAM_SUCCESS) {
    ++tally.open_failed;
    Note(tally, where + "pam_open_session returned " + std::to_string(opened) +
                    " (" + pam_strerror(pamh, opened) + ")");
    pam_end(pamh, opened);
    return;
  }
  ++tally.opened;
  key_serial_t serial = 0;
  if (std::string problem = CheckSessionKeyring(user, previous, serial);
      !problem.empty()) {
    ++tally.not_users_keyring;
    Note(tally, where + problem);
  }
  previous = serial;
  if (const Ids now = CurrentIds(); now != ids_before) {
    ++tally.ids_not_restored;
    Note(tally, where + "after the open, " + Describe(now));
  }

  const int closed = pam_close_session(pamh, 0);
  if (closed != PAM_SUCCESS) {
    ++tally.close_failed;
    Note(tally, where + "pam_close_session returned " + std::to_string(closed) +
                    " (" + pam_strerror(pamh, closed) + ")");
  } else {
    ++tally.closed;
  }
  // The process still holds the keyring as its session keyring, so it can
  // see its state: a revoked key describes as EKEYREVOKED.
  if (serial > 0 &&
      (keyctl_describe(serial, nullptr, 0) >= 0 || errno != EKEYREVOKED)) {
    ++tally.not_revoked;
    Note(tally, where + "keyring " + std::to_string(serial) +
                    " is not revoked after the close");
  }
  if (const Ids now = CurrentIds(); now != ids_before) {
    ++tally.ids_not_restored;
    Note(tally, where + "after the close, " + Describe(now));
  }
  if (const long left = KeysInThreadKeyring(); left != 0) {
    ++tally.left_in_thread_keyring;
    Note(tally, where + "the thread keyring holds " + std::to_string(left) +
                    " key(s) after the close");
  }
  pam_end(pamh, closed);
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

// The body of worker `index`: say it is ready on `ready`, wait until `go`
// reaches end of file, run the plan's cycles, send the tally on `out`.
[[noreturn]] void Worker(const Plan& plan, long index, int ready, int go,
                         int out) {
  const char byte = 1;
  if (!WriteAll(ready, &byte, 1)) _exit(1);
  char ignored;
  while (read(go, &ignored, 1) < 0 && errno == EINTR) {
  }

  WorkerTally tally;
  const Ids ids_before = CurrentIds();
  key_serial_t previous = 0;
  const auto user_count = static_cast<long>(plan.users.size());
  for (long cycle = 0; cycle < plan.cycles; ++cycle) {
    const User& user =
        plan.users[static_cast<size_t>((index + cycle) % user_count)];
    OneSession(plan.service, user, cycle, ids_before, previous, tally);
  }
  _exit(WriteAll(out, &tally, sizeof tally) ? 0 : 1);
}

void Add(LoadReport& report, const WorkerTally& tally) {
  report.sessions += tally.sessions;
  report.opened += tally.opened;
  report.closed += tally.closed;
  report.start_failed += tally.start_failed;
  report.open_failed += tally.open_failed;
  report.close_failed += tally.close_failed;
  report.not_users_keyring += tally.not_users_keyring;
  report.not_revoked += tally.not_revoked;
  report.ids_not_restored += tally.ids_not_restored;
  report.left_in_thread_keyring += tally.left_in_thread_keyring;
  if (tally.first_problem[0] != '\0') {
    report.problems.emplace_back(
        tally.first_problem,
        strnlen(tally.first_problem, sizeof tally.first_problem));
  }
}

void SampleKeys(const Plan& plan, LoadReport& report) {
  long all = 0;
  for (const User& user : plan.users) {
    const long keys = testing::KeysOwnedBy(user.uid);
    report.peak_keys[user.uid] = std::max(report.peak_keys[user.uid], keys);
    all += keys;
  }
  report.peak_keys_all_users = std::max(report.peak_keys_all_users, all);
  report.peak_keys_root =
      std::max(report.peak_keys_root, long{testing::KeysOwnedBy(0)});
  ++report.samples;
}

struct RunningWorker {
  pid_t pid = -1;
  int out = -1;
  std::string data;
};

// Forks the workers, starts them together, samples the key counts until
// every worker has reported, and adds up what they sent. Returns "" or why
// the workers could not be started.
std::string RunWorkers(const Plan& plan, LoadReport& report) {
  int ready[2];
  int go[2];
  if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0) {
    return std::string("pipe2: ") + std::strerror(errno);
  }
  std::cout.flush();
  std::vector<RunningWorker> workers;
  for (long index = 0; index < plan.workers; ++index) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
      return std::string("pipe2: ") + std::strerror(errno);
    }
    const pid_t pid = fork();
    if (pid < 0) return std::string("fork: ") + std::strerror(errno);
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      // Only the coordinator may hold the write end of `go`: its closing
      // is the start signal.
      close(go[1]);
      close(out[0]);
      Worker(plan, index, ready[1], go[0], out[1]);
    }
    close(out[1]);
    workers.push_back({pid, out[0], {}});
  }
  close(ready[1]);
  close(go[0]);
  // A worker that died before it was ready only shortens the count here;
  // it is counted as lost below.
  for (long index = 0; index < plan.workers; ++index) {
    char byte;
    if (read(ready[0], &byte, 1) != 1) break;
  }
  close(ready[0]);

  SampleKeys(plan, report);
  const Clock::time_point start = Clock::now();
  close(go[1]);
  size_t open_pipes = workers.size();
  Clock::time_point next_sample = start + kSampleInterval;
  while (open_pipes > 0) {
    std::vector<pollfd> fds;
    std::vector<RunningWorker*> polled;
    for (RunningWorker& worker : workers) {
      if (worker.out < 0) continue;
      fds.push_back({worker.out, POLLIN, 0});
      polled.push_back(&worker);
    }
    if (poll(fds.data(), fds.size(),
             static_cast<int>(kSampleInterval.count())) < 0 &&
        errno != EINTR) {
      return std::string("poll: ") + std::strerror(errno);
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      RunningWorker& worker = *polled[i];
      char buffer[sizeof(WorkerTally)];
      const ssize_t n = read(worker.out, buffer, sizeof buffer);
      if (n > 0) {
        worker.data.append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(worker.out);
        worker.out = -1;
        --open_pipes;
      }
    }
    if (Clock::now() >= next_sample) {
      SampleKeys(plan, report);
      next_sample = Clock::now() + kSampleInterval;
    }
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  SampleKeys(plan, report);

  for (const RunningWorker& worker : workers) {
    int status = 0;
    waitpid(worker.pid, &status, 0);
    WorkerTally tally;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        worker.data.size() != sizeof tally) {
      ++report.workers_lost;
      report.problems.push_back("worker " + std::to_string(worker.pid) +
                                " ended with wait status " +
                                std::to_string(status) + " and sent " +
                                std::to_string(worker.data.size()) + " bytes");
      continue;
    }
    std::memcpy(&tally, worker.data.data(), sizeof tally);
    Add(report, tally);
  }
  return {};
}

bool ParseNumber(std::string_view text, long& number) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, number);
  return ec == std::errc() && ptr == end;
}

bool ParseUser(std::string_view text, User& user) {
  const size_t first = text.find(':');
  const size_t second = text.find(':', first + 1);
  long uid = 0;
  long gid = 0;
  if (first == std::string_view::npos || second == std::string_view::npos ||
      !ParseNumber(text.substr(first + 1, second - first - 1), uid) ||
      !ParseNumber(text.substr(second + 1), gid) || uid <= 0 || gid <= 0) {
    return false;
  }
  user.name = text.substr(0, first);
  user.uid = static_cast<uid_t>(uid);
  user.gid = static_cast<gid_t>(gid);
  return true;
}

}  // namespace

long LoadReport::Failures() const {
  return start_failed + open_failed + close_failed + not_users_keyring +
         not_revoked + ids_not_restored + left_in_thread_keyring + workers_lost;
}

std::string Render(const LoadReport& report) {
  std::ostringstream out;
  for (const auto& [name, member] : kCounters) {
    out << name << " " << report.*member << "\n";
  }
  out << "seconds " << report.seconds << "\n";
  for (const auto& [uid, keys] : report.peak_keys) {
    out << "peak_keys " << uid << " " << keys << "\n";
  }
  for (const std::string& problem : report.problems) {
    out << "problem " << problem << "\n";
  }
  return out.str();
}

bool Parse(std::string_view text, LoadReport& report) {
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    const size_t space = line.find(' ');
    if (space == std::string::npos) return false;
    const std::string name = line.substr(0, space);
    const std::string value = line.substr(space + 1);
    if (name == "problem") {
      report.problems.push_back(value);
      continue;
    }
    if (name == "seconds") {
      std::istringstream number(value);
      if (!(number >> report.seconds)) return false;
      continue;
    }
    if (name == "peak_keys") {
      const size_t gap = value.find(' ');
      long uid = 0;
      long keys = 0;
      if (gap == std::string::npos ||
          !ParseNumber(std::string_view(value).substr(0, gap), uid) ||
          !ParseNumber(std::string_view(value).substr(gap + 1), keys)) {
        return false;
      }
      report.peak_keys[static_cast<uid_t>(uid)] = keys;
      continue;
    }
    const auto counter =
        std::find_if(std::begin(kCounters), std::end(kCounters),
                     [&](const auto& entry) { return name == entry.first; });
    if (counter == std::end(kCounters) ||
        !ParseNumber(value, report.*(counter->second))) {
      return false;
    }
  }
  return true;
}

int RunCoordinator(const std::vector<std::string>& args) {
  Plan plan;
  if (args.size() < 4 || !ParseNumber(args[1], plan.workers) ||
      !ParseNumber(args[2], plan.cycles) || plan.workers < 1 ||
      plan.cycles < 1) {
    return 2;
  }
  plan.service = args[0];
  for (size_t i = 3; i < args.size(); ++i) {
    User user;
    if (!ParseUser(args[i], user)) return 2;
    plan.users.push_back(user);
  }

  // Every worker starts in a keyring of its own kind, as the processes of
  // a service do, whatever keyring the test was started in: a fresh
  // anonymous session keyring of root's, which the workers inherit.
  if (keyctl_join_session_keyring(nullptr) < 0) {
    std::cerr << "cannot join a new session keyring: " << std::strerror(errno)
              << "\n";
    return 1;
  }

  LoadReport report;
  report.workers = plan.workers;
  report.cycles_per_worker = plan.cycles;
  if (std::string failure = RunWorkers(plan, report); !failure.empty()) {
    std::cerr << failure << "\n";
    return 1;
  }
  std::cout << Render(report) << std::flush;
  return 0;
}

}  // namespace sessionkeyring::load
