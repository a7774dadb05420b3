#!/usr/bin/env bash
# Sessions and stock survive a clean unmount and a kill -9 of the daemon:
# a token keeps working (whoami), the stock is what the purchases left, a
# logout stays done.  Purchases that a kill -9 interrupts: every
# acknowledged one is there (and at most the one in flight per buyer on
# top).  A session whose user is no longer configured logs nobody in, and
# works again when the user is back.  The journal holds the records.
. "$(dirname "$0")/lib.sh"

state=$TEST_TMP/state
mkdir "$state"
d=$TEST_TMP/d

# call DIR REQUEST: one request on mnt/shop; prints the reply's first line.
call() {
	local out
	out=$(timeout 10 "$PYTHON" "$FSIO" ctl "$1/shop" "$2"$'\n') || fail "shop helper failed: $out"
	[[ "${out%%$'\n'*}" == OK ]] || fail "request '$2': write() failed: ${out%%$'\n'*}"
	out=${out#*$'\n'}
	printf '%s' "${out%%$'\n'*}"
}
login() { # DIR USER PASSWORD: prints the token
	local reply
	reply=$(call "$1" "login $2 $3")
	[[ "$reply" =~ ^ok\ ([0-9a-f]{32})$ ]] || fail "login $2: got '$reply'"
	printf '%s' "${BASH_REMATCH[1]}"
}
expect_reply() { # DIR REQUEST REPLY WHAT
	assert_eq "$3" "$(call "$1" "$2")" "$4: $2"
}

start_rwfs d --state="$state"
a=$(login "$d" alice wonderland)
b=$(login "$d" bob builder)
c=$(login "$d" alice wonderland)
expect_reply "$d" "buy $a 1001 3" "ok bought 3 apple (1001), 7 left" "before the restart"
expect_reply "$d" "logout $c" "ok logged out" "before the restart"

# A clean unmount.
stop_rwfs d || fail "daemon exit status after fusermount3 -u"
start_rwfs d --state="$state"
expect_reply "$d" "whoami $a" "ok alice" "after a clean restart"
expect_reply "$d" "whoami $b" "ok bob" "after a clean restart"
expect_reply "$d" "whoami $c" "error not logged in" "a logout after a clean restart"
assert_bytes "$d/inventory" $'1001 apple 7\n1002 banana 20\n1003 cherry 5\n'

# kill -9 right after acknowledged changes.
expect_reply "$d" "buy $b 1002 5" "ok bought 5 banana (1002), 15 left" "before kill -9"
expect_reply "$d" "buy $a 1003 5" "ok bought 5 cherry (1003), 0 left" "before kill -9"
expect_reply "$d" "logout $b" "ok logged out" "before kill -9"
e=$(login "$d" bob builder)
kill -KILL "$DAEMON_PID"
wait_until 10 eval "! is_running $DAEMON_PID" || fail "the daemon survived kill -9"
unmount "$d" || fail "cannot unmount the dead mount"
start_rwfs d --state="$state"
expect_reply "$d" "whoami $a" "ok alice" "after kill -9"
expect_reply "$d" "whoami $e" "ok bob" "a login just before kill -9"
expect_reply "$d" "whoami $b" "error not logged in" "a logout before kill -9"
expect_reply "$d" "whoami $c" "error not logged in" "an older logout after kill -9"
expect_reply "$d" "buy $a 1003 1" "error insufficient stock: 1003 has 0" "after kill -9"
assert_bytes "$d/inventory" $'1001 apple 7\n1002 banana 15\n1003 cherry 0\n'
# A restart with an --inventory file does not refill the shelves.
printf '1001,apple,500\n1003,cherry,500\n' >"$TEST_TMP/refill.csv"
stop_rwfs d || fail "daemon exit status"
start_rwfs d --state="$state" --inventory="$TEST_TMP/refill.csv"
assert_bytes "$d/inventory" $'1001 apple 7\n1002 banana 15\n1003 cherry 0\n'

# The users are configuration: without alice her session logs nobody in;
# with her back, it works again (the session record was kept).
hash=$(openssl passwd -6 builder 2>/dev/null ||
	"$PYTHON" -W ignore -c 'import crypt; print(crypt.crypt("builder", crypt.mksalt(crypt.METHOD_SHA512)))' 2>/dev/null)
if [[ "$hash" == '$6$'* ]]; then
	printf 'bob:%s\n' "$hash" >"$TEST_TMP/users"
	stop_rwfs d || fail "daemon exit status"
	start_rwfs d --state="$state" --users="$TEST_TMP/users"
	expect_reply "$d" "whoami $a" "error not logged in" "alice's session without alice configured"
	expect_reply "$d" "buy $a 1001 1" "error not logged in" "alice's session without alice configured"
	expect_reply "$d" "whoami $e" "ok bob" "bob's session with bob in the users file"
	expect_reply "$d" "login alice wonderland" "error wrong user or password" "alice not configured"
	stop_rwfs d || fail "daemon exit status"
	start_rwfs d --state="$state"
	expect_reply "$d" "whoami $a" "ok alice" "alice's session with the demo users again"
else
	echo "note: neither openssl nor python3's crypt makes SHA-512 hashes; users file part skipped"
fi

# The journal is the audit: sessions as hashes, purchases with their user.
stop_rwfs d || fail "daemon exit status"
dump=$("$RWFS" --dump --state="$state") || fail "--dump failed"
assert_match $'LOGIN "alice" [0-9a-f]{64}' "$dump" "--dump"
assert_match $'LOGOUT [0-9a-f]{64}' "$dump" "--dump"
assert_match $'BUY [0-9a-f]{64} 1001 3 "alice"' "$dump" "--dump"
assert_match $'BUY [0-9a-f]{64} 1002 5 "bob"' "$dump" "--dump"
assert_contains "$dump" 'PRODUCT 1003 5 "cherry"' "--dump"

# kill -9 in the middle of a stream of purchases (2 buyers, --sync=always
# for one run, the default for the other): all acknowledged units are
# gone from the stock, plus at most the one request in flight per buyer.
buyer() { # DIR USER PASSWORD: buys 1 unit of 3001 until the mount dies; prints the acks
	"$PYTHON" - "$1/shop" "$2" "$3" <<'PY'
import os, re, sys
path, user, password = sys.argv[1:4]
acked = 0

from shopio import request as call

try:
    fd = os.open(path, os.O_RDWR)
    token = call(fd, "login %s %s\n" % (user, password)).split()[1].decode()
    while acked < 1000000:
        reply = call(fd, "buy %s 3001 1\n" % token)
        if not re.fullmatch(rb"ok bought 1 bulk \(3001\), \d+ left\n", reply):
            sys.exit("unexpected reply %r" % reply)
        acked += 1
except OSError:
    pass
print(acked)
PY
}
printf 'upc,name,count\n3001,bulk,1000000\n' >"$TEST_TMP/bulk.csv"
for sync in always everysec; do
	rm -rf "$state" && mkdir "$state"
	start_rwfs d --state="$state" --inventory="$TEST_TMP/bulk.csv" --sync=$sync
	buyer "$d" alice wonderland >"$TEST_TMP/acked.a" &
	p1=$!
	buyer "$d" bob builder >"$TEST_TMP/acked.b" &
	p2=$!
	sleep 1.5
	kill -KILL "$DAEMON_PID"
	wait "$p1" || fail "buyer alice ($sync) failed"
	wait "$p2" || fail "buyer bob ($sync) failed"
	unmount "$d" || fail "cannot unmount the dead mount ($sync)"
	acked=$(($(cat "$TEST_TMP/acked.a") + $(cat "$TEST_TMP/acked.b")))
	((acked > 20)) || fail "only $acked purchases acknowledged before the kill ($sync)"
	start_rwfs d --state="$state" --inventory="$TEST_TMP/bulk.csv" --sync=$sync
	inv=$(timeout 10 cat "$d/inventory") || fail "cannot read inventory ($sync)"
	[[ "$inv" =~ ^3001\ bulk\ ([0-9]+)$ ]] || fail "inventory after kill -9 ($sync): '$inv'"
	sold=$((1000000 - BASH_REMATCH[1]))
	((sold >= acked && sold <= acked + 2)) ||
		fail "$acked purchases acknowledged before kill -9 ($sync), $sold units gone after the restart"
	stop_rwfs d || fail "daemon exit status ($sync)"
done
