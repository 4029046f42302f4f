// The work of the load test: many PAM sessions at once, from worker
// processes, each session checked from inside the worker.
//
// The test binary runs this part as a command of its own (the
// coordinator) through Sandbox::Run, so that the sandbox's /dev/log is
// read while the sessions run: its queue holds only a few datagrams, and a
// module that logged on every session would otherwise block every worker
// in syslog(3). The coordinator forks the workers, lets them start
// together, samples /proc/key-users while they run, and prints what they
// report as "name value" lines, which the test reads back.
//
// Workers are processes, not threads: pam_keyinit switches IDs for the
// whole process, and keeps its record in the loaded module, so threads
// would measure their interference rather than the module.

#ifndef SESSIONKEYRING_TESTS_LOAD_SESSION_LOAD_H_
#define SESSIONKEYRING_TESTS_LOAD_SESSION_LOAD_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sessionkeyring::load {

// The first argument that makes the test binary the coordinator.
inline constexpr std::string_view kCoordinatorFlag = "--coordinator";

// What the coordinator found, summed over its workers.
struct LoadReport {
  long workers = 0;
  long cycles_per_worker = 0;
  long sessions = 0;  // cycles run: pam_start, open, close, pam_end
  long opened = 0;    // pam_open_session returned PAM_SUCCESS
  long closed = 0;    // pam_close_session returned PAM_SUCCESS

  // Each is a failure of one session.
  long start_failed = 0;  // pam_start did not return PAM_SUCCESS
  long open_failed = 0;
  long close_failed = 0;  // of sessions that opened; others are not closed
  // After the open, the session keyring was not a fresh "_ses" keyring
  // owned by the session's user and group.
  long not_users_keyring = 0;
  // After the close, the session's keyring was not revoked.
  long not_revoked = 0;
  // After the open or the close, the worker's six IDs were not those it
  // had before (a session may count twice).
  long ids_not_restored = 0;
  // After the close, the worker's thread keyring still held keys.
  long left_in_thread_keyring = 0;
  // Workers that died or reported nothing; their sessions are missing.
  long workers_lost = 0;

  double seconds = 0;  // from the start signal to the last worker's end
  // The highest key count /proc/key-users showed while the workers ran:
  // per test user, for all test users at once, and for root.
  std::map<uid_t, long> peak_keys;
  long peak_keys_all_users = 0;
  long peak_keys_root = 0;
  long samples = 0;  // how many times /proc/key-users was read

  // The first problem each worker met, described.
  std::vector<std::string> problems;

  // Every failure above, added up.
  long Failures() const;
};

// The "name value" lines RunCoordinator prints.
std::string Render(const LoadReport& report);
// Reads them back; false if a line is not one Render() writes.
bool Parse(std::string_view text, LoadReport& report);

// Runs the coordinator:
//   SERVICE WORKERS CYCLES USER:UID:GID...
// Worker w runs CYCLES sessions, cycle i for user (w + i) mod the number of
// users, so that every user has sessions of several workers open at once.
// Prints the report on stdout; returns 0 if it printed one, 1 if the
// coordinator could not set up, 2 for a usage error.
int RunCoordinator(const std::vector<std::string>& args);

}  // namespace sessionkeyring::load

#endif  // SESSIONKEYRING_TESTS_LOAD_SESSION_LOAD_H_
