// The pieces of the PAM edge that the entry points share: the log sink that
// forwards to pam_syslog, the user lookup through pam_get_user, and the
// per-handle state kept with pam_set_data.

#ifndef SESSIONKEYRING_PAM_MODULE_PAM_EDGE_H_
#define SESSIONKEYRING_PAM_MODULE_PAM_EDGE_H_

#include <security/pam_modules.h>

#include "hooks.h"
#include "log_sink.h"

namespace sessionkeyring {

// Forwards to pam_syslog(), which prefixes "pam_sessionkeyring(service:type)"
// and never treats the message as a format. Debug lines only with `debug`.
class PamSyslogSink final : public LogSink {
 public:
  PamSyslogSink(pam_handle_t* pamh, bool debug) : pamh_(pamh), debug_(debug) {}
  void Log(LogLevel level, const std::string& message) override;

 private:
  pam_handle_t* pamh_;
  bool debug_;
};

// The PAM user (prompting "key user" if the application set none, as
// pam_keyinit does) looked up in the passwd database.
class PamUserSource final : public UserSource {
 public:
  explicit PamUserSource(pam_handle_t* pamh) : pamh_(pamh) {}
  UserLookup LookUp() override;

 private:
  pam_handle_t* pamh_;
};

// The state stored in this handle, or nullptr if no hook has stored any.
HandleState* FindHandleState(pam_handle_t* pamh);
// The state stored in this handle, stored first if there is none; nullptr
// if libpam refused to store it.
HandleState* AttachHandleState(pam_handle_t* pamh);

}  // namespace sessionkeyring

#endif  // SESSIONKEYRING_PAM_MODULE_PAM_EDGE_H_
