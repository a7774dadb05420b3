#!/usr/bin/env bash
# The journal stays bounded: past --compact-size it is replaced by a
# snapshot, and a restart restores the same state.
. "$(dirname "$0")/lib.sh"

state=$TEST_TMP/state
mkdir "$state"
start_rwfs d --state="$state" --compact-size=2000
"$PYTHON" - "$TEST_TMP/d/ctl" <<'PY' || fail "writes failed"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for i in range(1, 1001):
    os.write(fd, b"ADD A 1\nWRITE A 7\n")
PY
size=$(MNT=$TEST_TMP/d stat_value log_journal_bytes) # the file may run ahead
((size <= 2000 + 64)) || fail "journal not compacted: $size bytes"
[[ -s "$state/snapshot" ]] || fail "no snapshot"
stop_rwfs d || fail "clean exit"
start_rwfs d --state="$state" --compact-size=2000
assert_eq 1000 "$(value "$TEST_TMP/d/A")" "A after restart"
assert_eq 1000 "$(value "$TEST_TMP/d/mem/7")" "mem/7 after restart"
assert_contains "$("$RWFS" --dump --state="$state" 2>&1)" "snapshot @36:" "dump shows the snapshot"
