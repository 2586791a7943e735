# Shared by the tests/cli_*.sh scripts (sourced after T, the scratch folder, is set):
# counters, check, and expect_fail for bad-input cases.
pass=0; fail=0
ok()  { echo "ok   $*"; pass=$((pass+1)); }
bad() { echo "FAIL $*"; fail=$((fail+1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
# expect_fail CODE NEEDLE CMD...: exit code CODE, one stderr line containing NEEDLE
expect_fail() {
  local code=$1 needle=$2; shift 2
  "$@" >$T/out 2>$T/err; local rc=$?
  if [ $rc -eq "$code" ] && grep -qF -- "$needle" $T/err && [ "$(wc -l <$T/err)" -eq 1 ]; then
    ok "exit $code: $needle"
  else bad "expected exit $code and '$needle', got $rc: $(cat $T/err)"; fi
}
