// The only users the whole-module fuzz target can reach.
//
// The target calls the real kernel as root, and the module really switches
// to the user it is given. So that no input can open a session for a real
// user (root included), the target runs in a private mount namespace whose
// /etc/passwd and /etc/group hold only the users below, uids 64100 to
// 64109, and whose /etc/nsswitch.conf reads nothing but those files
// (Debian's default also asks systemd, which makes up "root" and "nobody"
// when the files lack them). Any other name is then unknown to the module.
// The namespace dies with the process; the real files are never written.
//
// The users' passwd entries are the odd ones seen in the field: a gid with
// no group line, the overflow gid 65534, gids at and beyond 2^31, the
// invalid gid (gid_t)-1, root's group, names that are numbers, a name that
// starts with a digit, a long name with an entry too big for a 1 KiB
// getpwnam_r buffer.

#ifndef SESSIONKEYRING_TESTS_FUZZ_TARGETS_FUZZ_USERS_H_
#define SESSIONKEYRING_TESTS_FUZZ_TARGETS_FUZZ_USERS_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace sessionkeyring::fuzz {

struct FuzzUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The users of the private passwd file.
const std::vector<FuzzUser>& FuzzUsers();

// Moves the calling process (single-threaded) into a private mount
// namespace in which the passwd database holds FuzzUsers() and no one
// else, and checks that it does. Returns an error message, or "".
std::string EnterPrivateUserDatabase();

// Drops every keyring the kernel keeps for the fuzz users beyond their
// processes (persistent, user and user-session keyrings) and waits until
// they own no key at all. Needs root. Returns what is left over, or "".
std::string ForgetFuzzUsersKeys();

}  // namespace sessionkeyring::fuzz

#endif  // SESSIONKEYRING_TESTS_FUZZ_TARGETS_FUZZ_USERS_H_
