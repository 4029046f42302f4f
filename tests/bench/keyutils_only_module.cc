// A PAM module that does nothing, linked to libkeyutils.so: the floor for
// what loading this project's module can cost a process, since the module
// has to bring libkeyutils.so along. The bench compares a pamtester
// process with it to one with pam_keyinit (see README.md).

#include <security/pam_modules.h>

extern "C" __attribute__((visibility("default"))) int pam_sm_open_session(
    pam_handle_t* /*pamh*/, int /*flags*/, int /*argc*/,
    const char** /*argv*/) {
  return PAM_SUCCESS;
}

extern "C" __attribute__((visibility("default"))) int pam_sm_close_session(
    pam_handle_t* /*pamh*/, int /*flags*/, int /*argc*/,
    const char** /*argv*/) {
  return PAM_SUCCESS;
}
