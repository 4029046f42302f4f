// Errors as values for the core library.
//
// The core never throws. Every kernel or credential call that can fail
// returns a Status (or a StatusOr<T>) that records which operation failed
// and the errno captured immediately after the call, before anything else
// (a log call, a destructor) can overwrite it.

#ifndef SESSIONKEYRING_LIB_STATUS_H_
#define SESSIONKEYRING_LIB_STATUS_H_

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sessionkeyring {

class [[nodiscard]] Status {
 public:
  // Success.
  Status() = default;

  // A failure of `operation` (a short verb phrase such as "join a new
  // session keyring") with the errno the call left behind.
  //
  // `detail`, if given, explains the failure instead of the errno's text:
  // for example what a set of IDs read back as after a call that reported
  // success.
  static Status Failure(std::string_view operation, int error_number,
                        std::string_view detail = {}) {
    Status status;
    status.operation_ = operation;
    status.errno_ = error_number == 0 ? -1 : error_number;
    status.detail_ = detail;
    return status;
  }

  bool ok() const { return errno_ == 0; }
  // The captured errno; -1 for a failure the kernel did not describe
  // (for example IDs that read back wrong after a successful call).
  int error_number() const { return errno_; }
  const std::string& operation() const { return operation_; }

  // Why it failed: the detail if there is one, else the errno's text.
  std::string Reason() const;
  // "Failed to <operation>: <reason>", the form every log line uses.
  std::string Describe() const;

  // Marks a result as deliberately ignored.
  void IgnoreError() const {}

 private:
  std::string operation_;
  std::string detail_;
  int errno_ = 0;
};

// The text for an errno, safe to call from any thread and never localised.
std::string ErrnoText(int error_number);

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}         // NOLINT: implicit
  StatusOr(Status status) : value_(std::move(status)) {}  // NOLINT: implicit

  bool ok() const { return std::holds_alternative<T>(value_); }
  const T& value() const { return std::get<T>(value_); }
  T& value() { return std::get<T>(value_); }
  // Only meaningful when !ok().
  Status status() const { return ok() ? Status() : std::get<Status>(value_); }
  int error_number() const {
    return ok() ? 0 : std::get<Status>(value_).error_number();
  }

 private:
  std::variant<T, Status> value_;
};

}  // namespace sessionkeyring

#endif  // SESSIONKEYRING_LIB_STATUS_H_
