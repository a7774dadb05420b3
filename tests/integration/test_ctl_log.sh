#!/usr/bin/env bash
# The event log shows a ctl batch in canonical form, as PROTOCOL promises:
# `ADD 27 N` as `ADD N 27`, names upper case, comments and blank lines
# gone; a batch that does not parse as written.
. "$(dirname "$0")/lib.sh"

log_has() { # TEXT: waits up to 5 s for the console log to hold TEXT
	wait_until 5 grep -qF -- "$1" "$RWFS_LOG" || fail "no '$1' in the console log:
$(tail -n 20 "$RWFS_LOG")"
}

echo 'ADD 27 N' >"$MNT/ctl" || fail "ADD 27 N failed"
log_has ' ctl "ADD N 27" -> ok'
printf 'set 97 i\n# a comment\n\nread 100 b\nwrite 100 a\nmov 5 c\n' | cat >"$MNT/ctl" ||
	fail "the batch failed"
log_has ' ctl "SET I 97\nREAD B 100\nWRITE A 100\nMOV 5 C" -> ok'
echo 'add 1 2' >"$MNT/ctl" 2>/dev/null && fail "ADD 1 2 succeeded"
log_has ' ctl "add 1 2" -> error line 1: '
echo 'div a z' >"$MNT/ctl" 2>/dev/null && fail "DIV A Z succeeded"
log_has ' ctl "DIV A Z" -> error line 1: division by zero'
assert_not_contains "$(cat "$RWFS_LOG")" 'ctl "ADD 27 N"' "the console log"
