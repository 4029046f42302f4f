// Where the core reports what it did.
//
// The core never writes to stdout, stderr or syslog itself. It hands each
// message to a LogSink: the PAM edge forwards them to pam_syslog(), tests
// record them. A failure is reported once, by the code that decides the
// outcome; debug messages are only kept when the `debug` option is set,
// which is the sink's business, not the caller's.

#ifndef SESSIONKEYRING_LIB_LOG_SINK_H_
#define SESSIONKEYRING_LIB_LOG_SINK_H_

#include <string>
#include <string_view>

namespace sessionkeyring {

// Mirrors the syslog levels the module uses.
enum class LogLevel { kError, kWarning, kNotice, kInfo, kDebug };

class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void Log(LogLevel level, const std::string& message) = 0;
};

// Quotes text that came from outside (a user name, a module argument) for a
// log line: wrapped in double quotes, with quotes, backslashes, control
// characters and bytes outside printable ASCII escaped as \xNN, and cut
// after `max_bytes` input bytes so that a hostile name cannot flood the log.
std::string QuoteForLog(std::string_view text, size_t max_bytes = 64);

}  // namespace sessionkeyring

#endif  // SESSIONKEYRING_LIB_LOG_SINK_H_
