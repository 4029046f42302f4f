// Finding the processes a client left running.
//
// Everything the e2e tests start runs in the sandbox's mount namespace,
// which no other process on the machine shares, so any process in it other
// than the test process itself was started by a test. Daemons and login
// programs call setsid(), which takes their children out of the process
// group that Sandbox::Run() kills: looking at the namespace finds them
// anyway.

#ifndef SESSIONKEYRING_TESTS_E2E_STRAY_PROCESSES_H_
#define SESSIONKEYRING_TESTS_E2E_STRAY_PROCESSES_H_

#include <sys/types.h>

#include <chrono>
#include <string>

namespace sessionkeyring::e2e {

// Waits up to `grace` until no process other than this one and `except`
// (when positive) is in this process's mount namespace. Returns those
// still there, one "pid command line" per line, or an empty string.
// Zombies do not count: they have already ended. Outside a private mount
// namespace (the sandbox not entered) every process on the machine would
// match, so it then says so instead of listing any.
std::string WaitForStrayProcesses(std::chrono::milliseconds grace,
                                  pid_t except = 0);

// Kills with SIGKILL every process that WaitForStrayProcesses() would
// list, and nothing outside a private mount namespace.
void KillStrayProcesses(pid_t except = 0);

}  // namespace sessionkeyring::e2e

#endif  // SESSIONKEYRING_TESTS_E2E_STRAY_PROCESSES_H_
