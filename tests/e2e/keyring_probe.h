// The probe's report on a session keyring, for C++ code that runs inside a
// session (the PAM driver, a client's child setup). It prints the lines
// probe.sh prints, so that ParseProbeOutput() reads both alike.

#ifndef SESSIONKEYRING_TESTS_E2E_KEYRING_PROBE_H_
#define SESSIONKEYRING_TESTS_E2E_KEYRING_PROBE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sessionkeyring::e2e {

// "<serial> <type;uid;gid;perm;description>", as probe.sh puts together
// from `keyctl id` and `keyctl rdescribe`; nullopt, with errno set, if the
// key cannot be described (it is revoked, or the caller may not view it).
std::optional<std::string> DescribeKey(int32_t key);

// probe.sh's lines on the calling thread's session keyring at `hook`: the
// "session" line and one "link" line per keyring linked into it, or one
// "error" line with the errno's text. It has no "client" line: the IDs
// that line reports are the probe's parent's, and here there is none.
std::string ProbeSessionKeyring(std::string_view hook);

}  // namespace sessionkeyring::e2e

#endif  // SESSIONKEYRING_TESTS_E2E_KEYRING_PROBE_H_
