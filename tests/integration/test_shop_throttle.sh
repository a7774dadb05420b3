#!/usr/bin/env bash
# The login throttle through the mount (shop.h: 3 failures in a row are
# free; each further failure locks the name out for 1 s, then 2 s, 4 s...;
# a success resets it; per user name, known or not; in memory only):
#   - 3 wrong passwords, then the right one: logged in (the free failures);
#   - a 4th wrong password in a row is still "wrong user or password" and
#     starts a 1 s lockout, during which even the right password gets
#     "error too many failed logins for alice, try again in 1 s";
#     after the lockout the right password works;
#   - the lockouts double: 2 s after the 5th failure, 4 s after the 6th;
#   - other names are not affected; unknown names are throttled alike;
#   - 8 guesses in parallel get no more tries than 8 in a row (4);
#   - a restart forgets the throttle.
. "$(dirname "$0")/lib.sh"

timeout 50 "$PYTHON" - "$MNT/shop" <<'PY' || fail "throttle (see above)"
import os, re, sys, threading, time

shop = sys.argv[1]
failures = 0
WRONG = b"error wrong user or password\n"
TOKEN = re.compile(rb"ok [0-9a-f]{32}\n")


def bad(msg):
    global failures
    failures += 1
    print("FAIL: " + msg, file=sys.stderr)


from shopio import request


def call(text):
    return request(shop, text)


def locked(user, seconds):
    return b"error too many failed logins for %s, try again in %d s\n" % (user.encode(), seconds)


def expect(what, request, want):
    got = call(request)
    ok = want.fullmatch(got) if hasattr(want, "fullmatch") else got == want
    if not ok:
        bad("%s: %r: expected %r, got %r"
            % (what, request, want.pattern if hasattr(want, "pattern") else want, got))


# Three free failures; the right password then works and resets the count.
for i in range(3):
    expect("free failure %d" % (i + 1), "login alice nope\n", WRONG)
expect("right password after 3 failures", "login alice wonderland\n", TOKEN)

# Four in a row: the 4th is answered like the others and locks for 1 s.
for i in range(4):
    expect("failure %d in a row" % (i + 1), "login alice nope\n", WRONG)
start = time.monotonic()
expect("right password within the lockout", "login alice wonderland\n", locked("alice", 1))
expect("wrong password within the lockout", "login alice nope\n", locked("alice", 1))
expect("another user within alice's lockout", "login bob builder\n", TOKEN)
time.sleep(max(0, 1.15 - (time.monotonic() - start)))
expect("right password after the lockout", "login alice wonderland\n", TOKEN)

# Doubling: the 5th failure locks 2 s, the 6th 4 s.
for i in range(4):
    expect("failure %d again" % (i + 1), "login alice nope\n", WRONG)
time.sleep(1.15)
expect("5th failure", "login alice nope\n", WRONG)
expect("after the 5th failure", "login alice wonderland\n", locked("alice", 2))
time.sleep(2.15)
expect("6th failure", "login alice nope\n", WRONG)
expect("after the 6th failure", "login alice wonderland\n", locked("alice", 4))
time.sleep(2.5)
expect("2.5 s into the 4 s lockout", "login alice wonderland\n", locked("alice", 2))
time.sleep(1.65)
expect("right password after the 4 s lockout", "login alice wonderland\n", TOKEN)
expect("the count was reset", "login alice nope\n", WRONG)

# A name that does not exist is throttled like one that does.
for i in range(4):
    expect("unknown user, failure %d" % (i + 1), "login nobody nope\n", WRONG)
expect("unknown user locked out", "login nobody nope\n", locked("nobody", 1))

# Parallel guesses: 3 free ones and the one that earns the lockout.
barrier = threading.Barrier(8)
replies = []


def guess():
    barrier.wait(timeout=10)
    replies.append(call("login bob guess\n"))


threads = [threading.Thread(target=guess) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join(20)
wrong = replies.count(WRONG)
lock = sum(1 for r in replies if r.startswith(b"error too many failed logins for bob, try again in "))
if (wrong, lock) != (4, 4):
    bad("8 parallel guesses: %d wrong, %d locked out, expected 4 and 4: %r" % (wrong, lock, replies))
sys.exit(1 if failures else 0)
PY

# The throttle lives in memory: a restart forgets a lockout (a 2 s one, so
# that a quick restart tells).
mkdir "$TEST_TMP/state"
start_rwfs d --state="$TEST_TMP/state"
login_d() { timeout 10 "$PYTHON" "$FSIO" ctl "$TEST_TMP/d/shop" "login alice $1"$'\n'; }
for i in 1 2 3 4; do
	assert_eq $'OK\nerror wrong user or password' "$(login_d nope)" "failure $i before the restart"
done
sleep 1.1
assert_eq $'OK\nerror wrong user or password' "$(login_d nope)" "failure 5 before the restart"
locked_at=$(date +%s%N)
assert_eq $'OK\nerror too many failed logins for alice, try again in 2 s' "$(login_d wonderland)" \
	"locked out before the restart"
stop_rwfs d || fail "exit status"
start_rwfs d --state="$TEST_TMP/state"
out=$(login_d wonderland)
elapsed_ms=$((($(date +%s%N) - locked_at) / 1000000))
if ((elapsed_ms < 1900)); then
	assert_match $'^OK\nok [0-9a-f]{32}$' "$out" "login ${elapsed_ms} ms into a 2 s lockout, after a restart"
else
	echo "note: the restart took $elapsed_ms ms, too long to tell whether the lockout was forgotten"
fi

# The log shows the refusals (written a moment later).
wait_until 5 grep -q "shop login alice -> error too many failed logins" "$RWFS_LOG"
assert_contains "$(cat "$RWFS_LOG")" "shop login alice -> error too many failed logins for alice, try again in 1 s" \
	"event log"
