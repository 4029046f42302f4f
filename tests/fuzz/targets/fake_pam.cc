#include "fake_pam.h"

#include <security/pam_ext.h>
#include <syslog.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using sessionkeyring::fuzz::kMaxLogLineLength;

[[noreturn]] void Fail(const pam_handle* pamh, const char* what,
                       const std::string& line) {
  std::fprintf(stderr, "fake libpam: %s: \"%s\"\n", what, line.c_str());
  if (pamh != nullptr) {
    std::fprintf(stderr, "lines logged before it:\n");
    for (const std::string& earlier : pamh->log) {
      std::fprintf(stderr, "  %s\n", earlier.c_str());
    }
  }
  std::abort();
}

void CheckLine(const pam_handle* pamh, int priority, const std::string& line) {
  if ((priority & LOG_PRIMASK) <= LOG_CRIT) {
    Fail(pamh, "a line at LOG_CRIT or above (an internal error)", line);
  }
  if (line.empty()) Fail(pamh, "an empty line", line);
  if (line.size() > kMaxLogLineLength) Fail(pamh, "an overlong line", line);
  const bool printable = std::all_of(line.begin(), line.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 && byte < 0x7f;
  });
  if (!printable) Fail(pamh, "a byte outside printable ASCII", line);
}

pam_handle::Data* Find(const pam_handle* pamh, const char* name) {
  auto* handle = const_cast<pam_handle*>(pamh);
  for (pam_handle::Data& entry : handle->data) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

}  // namespace

pam_handle::~pam_handle() { End(PAM_SUCCESS); }

void pam_handle::End(int status) {
  ending = true;
  // Taken out first, so that a cleanup that looks for data finds none.
  std::vector<Data> entries = std::move(data);
  data.clear();
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (it->cleanup != nullptr) it->cleanup(this, it->data, status);
  }
  ending = false;
}

extern "C" {

int pam_set_data(pam_handle_t* pamh, const char* module_data_name, void* data,
                 void (*cleanup)(pam_handle_t* pamh, void* data,
                                 int error_status)) {
  // libpam's header declares every pointer argument but the data nonnull.
  if (pamh->ending) Fail(pamh, "pam_set_data() during pam_end()", "");
  if (pamh->refuse_set_data) return PAM_BUF_ERR;
  if (pam_handle::Data* entry = Find(pamh, module_data_name)) {
    // libpam tells the previous owner that its data was replaced.
    if (entry->cleanup != nullptr) {
      entry->cleanup(pamh, entry->data, PAM_DATA_REPLACE | PAM_SUCCESS);
    }
    entry->data = data;
    entry->cleanup = cleanup;
    return PAM_SUCCESS;
  }
  pamh->data.push_back({module_data_name, data, cleanup});
  return PAM_SUCCESS;
}

int pam_get_data(const pam_handle_t* pamh, const char* module_data_name,
                 const void** data) {
  const pam_handle::Data* entry = Find(pamh, module_data_name);
  if (entry == nullptr) return PAM_NO_MODULE_DATA;
  *data = entry->data;
  return PAM_SUCCESS;
}

int pam_get_user(pam_handle_t* pamh, const char** user,
                 const char* /*prompt*/) {
  *user = nullptr;
  if (pamh->get_user_code != PAM_SUCCESS) return pamh->get_user_code;
  if (pamh->user) *user = pamh->user->c_str();
  return PAM_SUCCESS;
}

int pam_get_item(const pam_handle_t* pamh, int item_type, const void** item) {
  if (item == nullptr) return PAM_SYSTEM_ERR;
  static constexpr char kService[] = "fuzz";
  switch (item_type) {
    case PAM_SERVICE:
      *item = kService;
      return PAM_SUCCESS;
    case PAM_USER:
      *item = pamh->user ? pamh->user->c_str() : nullptr;
      return PAM_SUCCESS;
    default:
      *item = nullptr;
      return PAM_SUCCESS;
  }
}

const char* pam_strerror(pam_handle_t* /*pamh*/, int errnum) {
  return errnum == PAM_SUCCESS ? "Success" : "Fake libpam error";
}

void pam_vsyslog(const pam_handle_t* pamh, int priority, const char* fmt,
                 va_list args) {
  va_list copy;
  va_copy(copy, args);
  const int length = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (length < 0) Fail(pamh, "a format vsnprintf cannot expand", fmt);
  std::string line(static_cast<size_t>(length) + 1, '\0');
  std::vsnprintf(line.data(), line.size(), fmt, args);
  line.resize(static_cast<size_t>(length));
  CheckLine(pamh, priority, line);
  // For reading what a reproduced input does.
  if (std::getenv("FUZZ_PRINT_LOG") != nullptr) {
    std::fprintf(stderr, "<%d> %s\n", priority, line.c_str());
  }
  if (pamh != nullptr) const_cast<pam_handle*>(pamh)->log.push_back(line);
}

void pam_syslog(const pam_handle_t* pamh, int priority, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  pam_vsyslog(pamh, priority, fmt, args);
  va_end(args);
}

}  // extern "C"
