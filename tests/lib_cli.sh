# Shared by the tests/cli_*.sh scripts (sourced after T, the scratch folder, is set):
# counters, check, and expect_fail for bad-input cases.
pass=0; fail=0
# mxb's stderr of the commands whose output a test does not read goes to $MXB_ERR
# (`2>>$MXB_ERR`, never /dev/null), and every FAIL line is followed by its last lines:
# a failure says why ("h5diff: unable to open file" alone said nothing).
MXB_ERR=$(mktemp); export MXB_ERR; trap 'rm -rf "$T" "$MXB_ERR"' EXIT
ok()  { echo "ok   $*"; pass=$((pass+1)); }
bad() {
  echo "FAIL $*"; fail=$((fail+1))
  if [ -s "$MXB_ERR" ]; then echo "     mxb's last stderr lines:"; tail -n 5 "$MXB_ERR" | sed 's/^/     | /'; fi
}
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
# expect_fail CODE NEEDLE CMD...: exit code CODE, one stderr line containing NEEDLE
expect_fail() {
  local code=$1 needle=$2; shift 2
  "$@" >$T/out 2>$T/err; local rc=$?
  if [ $rc -eq "$code" ] && grep -qF -- "$needle" $T/err && [ "$(wc -l <$T/err)" -eq 1 ]; then
    ok "exit $code: $needle"
  else bad "expected exit $code and '$needle', got $rc: $(cat $T/err)"; fi
}
# sanitised: true in the ASan+UBSan pass (MXB_TEST_SANITIZED=1, set by the sanitiser
# build's ctest), where a test leaves out the parts that run no C code of mxb's
# (PyTorch against the originals, timing loops) and keeps every mxb command it runs.
sanitised() { [ "${MXB_TEST_SANITIZED:-0}" = 1 ]; }
