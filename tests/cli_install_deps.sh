#!/usr/bin/env bash
# .ci/install-deps against an apt-get of its own (first on PATH, with a sudo that only
# runs its arguments, so nothing is installed whoever runs it): a held apt lock is waited
# for and the install goes on; another apt error fails at once; a lock held past
# APT_LOCK_WAIT fails with apt's message.
set -uo pipefail
SRC=$MXB_SOURCE_DIR
T=$(mktemp -d); trap 'rm -rf $T' EXIT
. "$SRC/tests/lib_cli.sh"
mkdir -p $T/bin
# apt-get: each call logged; the first $LOCKED calls fail as a held lock does (exit 100),
# or with $OTHER's message when set
cat >$T/bin/apt-get <<'EOF'
#!/bin/bash
n=$(($(wc -l <"$APT_LOG") + 1)); echo "$*" >>"$APT_LOG"
if [ -n "${OTHER:-}" ]; then echo "E: $OTHER" >&2; exit 100; fi
if [ "$n" -le "${LOCKED:-0}" ]; then
  echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (unattended-upgr)" >&2; exit 100
fi
exit 0
EOF
printf '#!/bin/sh\nexec "$@"\n' >$T/bin/sudo
chmod +x $T/bin/apt-get $T/bin/sudo
deps() { : >$T/apt.log; env PATH=$T/bin:$PATH APT_LOG=$T/apt.log APT_LOCK_POLL=0 "$@" bash $SRC/.ci/install-deps 2>$T/err; }

deps LOCKED=2 APT_LOCK_WAIT=60; rc=$?
check "a held lock: waited for (two tries refused), then update and install, exit 0" \
  bash -c "[ $rc = 0 ] && [ \$(grep -c '^-o DPkg::Lock::Timeout=60 update -qq\$' $T/apt.log) = 3 ] &&
           [ \$(grep -c ' install -y -qq --no-install-recommends ' $T/apt.log) = 1 ] &&
           [ \$(grep -c '^install-deps: apt is locked by another process (unattended upgrades at boot?); waiting' $T/err) = 2 ]"
check "every package of .ci/packages.txt asked for" \
  bash -c "for p in \$(grep -v '^#' $SRC/.ci/packages.txt); do grep -q \" \$p\\( \\|\$\\)\" $T/apt.log || exit 1; done"
deps OTHER="Unable to locate package nosuch" APT_LOCK_WAIT=60; rc=$?
check "another apt error: exit non-zero at once, apt's message shown, no wait" \
  bash -c "[ $rc != 0 ] && [ \$(wc -l <$T/apt.log) = 1 ] && grep -q '^E: Unable to locate package nosuch' $T/err &&
           ! grep -q waiting $T/err"
deps LOCKED=99 APT_LOCK_WAIT=0; rc=$?
check "a lock held past APT_LOCK_WAIT: exit non-zero with apt's lock message" \
  bash -c "[ $rc != 0 ] && [ \$(wc -l <$T/apt.log) = 1 ] && grep -q '^E: Could not get lock' $T/err"

echo "cli_install_deps: $pass passed, $fail failed"
[ $fail -eq 0 ]
