#!/usr/bin/env bash
# No password and no token in clear anywhere the daemon writes: its state
# directory (journal and snapshot: --compact-size=1 compacts after every
# change), its stdout (the event log), its stderr, an open mnt/events, and
# --dump; also when a password or token is sent where the verb or the user
# name should be.  The users come from a --users file with distinctive passwords
# (crypt(3) hashes made with openssl passwd, else python3's crypt module,
# else mkpasswd; the demo user alice as the last resort).  The records keep
# the SHA-256 of the token, which the test finds, so the search looks at the
# right places.
. "$(dirname "$0")/lib.sh"

# Our own files where run.sh does not take them for a daemon's stderr.
mkdir "$TEST_TMP/t" "$TEST_TMP/state"
s=$TEST_TMP/s
salt=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
password="Sekr1t-$salt-Pw"
wrong="Wr0ng-$salt-Guess"
other="Th1rd-$salt-Pass"

hash6() { # PASSWORD: a crypt(3) SHA-512 hash, or nothing
	openssl passwd -6 "$1" 2>/dev/null && return
	"$PYTHON" -W ignore -c 'import crypt, sys
print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_SHA512)))' "$1" 2>/dev/null && return
	command -v mkpasswd >/dev/null && mkpasswd -m sha-512 "$1" 2>/dev/null
}
user=carol
h=$(hash6 "$password")
if [[ "$h" == '$6$'* ]]; then
	printf '# test users\n%s:%s\n' "$user" "$h" >"$TEST_TMP/t/users"
	# SHA-256 crypt too, when openssl can make it.
	h5=$(openssl passwd -5 "$other" 2>/dev/null) && printf 'dave:%s\n' "$h5" >>"$TEST_TMP/t/users"
	start_rwfs s --state="$TEST_TMP/state" --compact-size=1 --users="$TEST_TMP/t/users"
else
	echo "note: no tool makes crypt(3) hashes here; using the demo user alice"
	user=alice password=wonderland h5=
	start_rwfs s --state="$TEST_TMP/state" --compact-size=1
fi

# An events reader from before the first login.
timeout 30 cat "$s/events" >"$TEST_TMP/t/events.out" &
events_pid=$!
wait_until 10 eval "grep -qx 'events_listeners 1' '$s/stats'" || fail "the events reader did not open"

call() { # REQUEST: one request on mnt/shop; prints STATUS REPLY-FIRST-LINE
	local out
	out=$(timeout 10 "$PYTHON" "$FSIO" ctl "$s/shop" "$1"$'\n') || fail "shop helper failed: $out"
	local status=${out%%$'\n'*} reply=${out#*$'\n'}
	printf '%s %s' "$status" "${reply%%$'\n'*}"
}

assert_eq "OK error wrong user or password" "$(call "login $user $wrong")" "a wrong password"
assert_eq "EINVAL error usage: login USER PASSWORD" "$(call "login $user $password extra")" \
	"a login with an extra word"
assert_eq "EMSGSIZE error request too long (at most 1024 bytes)" \
	"$(call "login $user $password $(printf '%01100d' 0)")" "a login over 1024 bytes"
reply=$(call "login $user $password")
[[ "$reply" =~ ^OK\ ok\ ([0-9a-f]{32})$ ]] || fail "login $user: got '$reply'"
token=${BASH_REMATCH[1]}
assert_eq "OK ok $user" "$(call "whoami $token")" "whoami"
assert_eq "OK ok bought 1 apple (1001), 9 left" "$(call "buy $token 1001 1")" "buy"
assert_eq "EINVAL error usage: whoami TOKEN" "$(call "whoami $token $token")" "whoami with two tokens"
assert_eq "OK ok 3 products" "$(call "list $token")" "list"
if [[ -n "${h5:-}" ]]; then
	reply=$(call "login dave $other")
	[[ "$reply" =~ ^OK\ ok\ ([0-9a-f]{32})$ ]] || fail "login dave (a \$5\$ hash): got '$reply'"
	token2=${BASH_REMATCH[1]}
	assert_eq "OK ok dave" "$(call "whoami $token2")" "whoami dave"
fi
# A second session that stays, and one that ends.
reply=$(call "login $user $password")
[[ "$reply" =~ ^OK\ ok\ ([0-9a-f]{32})$ ]] || fail "second login: got '$reply'"
token3=${BASH_REMATCH[1]}
# Secrets where a word of the request should be: the password alone (an
# unknown verb), as the user name, and a token as a verb.
assert_eq "EINVAL error unknown request '$password' (login, list, buy, logout, whoami)" \
	"$(call "$password")" "the password alone"
assert_eq "EINVAL error unknown request '$token3' (login, list, buy, logout, whoami)" \
	"$(call "$token3 $wrong")" "a token and a password"
for i in 1 2 3 4; do
	assert_eq "OK error wrong user or password" "$(call "login $password $wrong")" \
		"the password as the user name ($i)"
done
assert_eq "OK error too many failed logins for $password, try again in 1 s" \
	"$(call "login $password $wrong")" "the password as the user name, locked out"
assert_eq "OK ok logged out" "$(call "logout $token")" "logout"

wait_until 10 grep -q 'shop logout -> ok logged out' "$TEST_TMP/t/events.out" ||
	fail "the events reader did not see the logout"
kill "$events_pid" 2>/dev/null
wait "$events_pid" 2>/dev/null
stop_rwfs s || fail "daemon exit status after fusermount3 -u"
"$RWFS" --dump --state="$TEST_TMP/state" >"$TEST_TMP/t/dump" 2>&1 || fail "--dump failed"

# What the daemon logged: the requests, without secrets.
events=$(cat "$TEST_TMP/t/events.out")
for line in "shop login $user -> error wrong user or password" "shop login $user -> ok" \
	"shop request -> error usage: login USER PASSWORD" \
	"shop request -> error request too long (at most 1024 bytes)" \
	"shop whoami -> ok $user" "shop buy 1001 1 -> ok bought 1 apple (1001), 9 left" \
	"shop request -> error usage: whoami TOKEN" "shop list -> ok" "shop logout -> ok logged out" \
	"shop request -> error unknown request"$'\n' "shop login ? -> error wrong user or password" \
	"shop login ? -> error too many failed logins"$'\n'; do
	assert_contains "$events" "$line" "mnt/events"
	assert_contains "$(cat "$TEST_TMP/s.log")" "$line" "the event log on stdout"
done

# The records hold the SHA-256 of each token (hex of the token's text).
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
dump=$(cat "$TEST_TMP/t/dump")
assert_contains "$dump" "LOGIN \"$user\" $(sha "$token3")" "--dump: the live session"
[[ -e "$TEST_TMP/state/snapshot" ]] || fail "no snapshot in the state directory (--compact-size=1)"
# The snapshot's records come first in the dump, before the journal's.
snapshot=$(sed -n '/^snapshot @/,/^journal @/p' <<<"$dump")
assert_contains "$snapshot" "$(sha "$token3")" "the live session's hash in the snapshot"
assert_not_contains "$snapshot" "$(sha "$token")" "the snapshot after logout"

# And nowhere a password or a token in clear.
places=("$TEST_TMP/state" "$TEST_TMP/s.log" "$TEST_TMP/s.err" "$TEST_TMP/t/events.out"
	"$TEST_TMP/t/dump" "$RWFS_LOG" "$RWFS_ERR")
secrets=("$password" "$wrong" "$token" "$token3")
[[ -n "${h5:-}" ]] && secrets+=("$other" "$token2")
for secret in "${secrets[@]}"; do
	for what in "$secret" "${secret^^}"; do
		found=$(grep -rlaF -- "$what" "${places[@]}")
		[[ -z "$found" ]] || fail "'$what' found in clear in: $found"
	done
done
