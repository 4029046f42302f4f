#!/bin/sh
# Reports the session keyring of the process running it, for the end-to-end
# tests. pam_exec runs it inside a PAM session (it inherits the session's
# keyring, as the user's shell would); a client's command can run it too.
#
# Usage: probe.sh [--link-into KEYRING] [HOOK]
#
# One line per fact, all starting with "probe <hook>", where <hook> is HOOK
# or pam_exec's PAM_TYPE (open_session, close_session...):
#   probe <hook> session <serial> <type;uid;gid;perm;description>
#   probe <hook> link <serial> <type;uid;gid;perm;description>
#   probe <hook> error <what keyctl said, e.g. "Key has been revoked">
#   probe <hook> client uid <real/effective/saved> gid <real/effective/saved>
# With --link-into, it also links the session keyring into KEYRING (a
# keyring of the test's), so that the test can look at it after the
# client has ended.

# pam_exec passes only the PAM environment, without PATH.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

holder=
if [ "$1" = --link-into ]; then
  holder=$2
  shift 2
fi
hook=${1:-${PAM_TYPE:-unknown}}

if serial=$(keyctl id @s 2>&1); then
  echo "probe $hook session $serial $(keyctl rdescribe @s 2>&1)"
  for link in $(keyctl rlist @s 2>/dev/null); do
    echo "probe $hook link $link $(keyctl rdescribe "$link" 2>&1)"
  done
  if [ -n "$holder" ]; then
    keyctl link @s "$holder" >/dev/null
  fi
else
  echo "probe $hook error ${serial#*: }"
fi

# The IDs of the PAM client (this script's parent under pam_exec) at this
# point; this script's own saved IDs were reset by execve.
while read -r field real effective saved filesystem; do
  case $field in
    Uid:) uids=$real/$effective/$saved ;;
    Gid:) gids=$real/$effective/$saved ;;
  esac
done < "/proc/$PPID/status"
echo "probe $hook client uid $uids gid $gids"
exit 0
