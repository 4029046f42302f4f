// One root test process at a time on this machine.
//
// The system and end-to-end tests share the test users' kernel keyrings
// (which each test forgets at its end) and, for some, kernel-wide
// settings such as the key quota. Two runs at once, from two build trees
// or a developer's run beside CI, would pull keyrings from under each
// other. Every such test process holds this lock for its whole life.

#ifndef SESSIONKEYRING_TESTS_COMMON_MACHINE_LOCK_H_
#define SESSIONKEYRING_TESTS_COMMON_MACHINE_LOCK_H_

#include <string>

namespace sessionkeyring::testing {

// Blocks until this process holds the machine-wide test lock; it is
// released when the process exits. Returns an error message, or "".
std::string HoldMachineTestLock();

}  // namespace sessionkeyring::testing

#endif  // SESSIONKEYRING_TESTS_COMMON_MACHINE_LOCK_H_
