#!/bin/sh
# The module must export exactly the four pam_sm_* entry points: anything
# more (the C++ runtime, the core's symbols) would be interposed into, or
# clash with, the host's own symbols.
set -eu
module=$1
expected="pam_sm_authenticate
pam_sm_close_session
pam_sm_open_session
pam_sm_setcred"
actual=$(nm -D --defined-only "$module" | awk '{print $3}' | sort)
if [ "$actual" != "$expected" ]; then
  echo "exported symbols of $module:" >&2
  echo "$actual" >&2
  echo "expected exactly:" >&2
  echo "$expected" >&2
  exit 1
fi
echo "exports: exactly the four pam_sm_* symbols"
