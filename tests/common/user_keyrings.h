// Cleaning up after tests that open sessions for test users.
//
// The kernel keeps a user's user keyring (_uid.<uid>) and user-session
// keyring (_uid_ses.<uid>) for as long as the user namespace lives, long
// after the last process of the user has gone. Tests that make them for
// their test users forget them again here, so that the suite leaves no
// keys behind.

#ifndef SESSIONKEYRING_TESTS_COMMON_USER_KEYRINGS_H_
#define SESSIONKEYRING_TESTS_COMMON_USER_KEYRINGS_H_

#include <sys/types.h>

#include <string>

namespace sessionkeyring::testing {

// How many keys `uid` owns, from /proc/key-users; 0 if it owns none.
int KeysOwnedBy(uid_t uid);

// Invalidates the user keyrings of `uid` and waits until the kernel has
// destroyed them, so that a test started right afterwards does not meet
// them half destroyed. Needs root. Returns a description of what went
// wrong, or an empty string.
std::string ForgetUserKeyrings(uid_t uid, gid_t gid);

}  // namespace sessionkeyring::testing

#endif  // SESSIONKEYRING_TESTS_COMMON_USER_KEYRINGS_H_
