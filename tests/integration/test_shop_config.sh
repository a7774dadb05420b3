#!/usr/bin/env bash
# The shop's configuration files.  --users=FILE: USER:HASH lines (comments,
# blank lines, blanks around a line and CRLF are fine); a malformed file
# (missing colon, a hash crypt(3) cannot use, a bad name, a duplicate user,
# a file that cannot be read) stops the daemon before it mounts, with exit
# status 1 and one line naming FILE:LINE.  With a users file the demo users
# are gone.  --inventory=FILE: CSV upc,name,count with an optional header;
# errors likewise; a good file seeds the stock only while the state holds
# none: a restart with another file (or none) keeps the stock.
. "$(dirname "$0")/lib.sh"

mkdir "$TEST_TMP/t" "$TEST_TMP/t/m"
cd "$TEST_TMP/t" || fail "cannot enter $TEST_TMP/t"

hash6() { # PASSWORD: a crypt(3) SHA-512 hash, or nothing
	openssl passwd -6 "$1" 2>/dev/null && return
	"$PYTHON" -W ignore -c 'import crypt, sys
print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_SHA512)))' "$1" 2>/dev/null && return
	command -v mkpasswd >/dev/null && mkpasswd -m sha-512 "$1" 2>/dev/null
}

# refused OPTION... -- EXPECTED-STDERR: the daemon must exit 1 without
# mounting, print nothing on stdout and exactly EXPECTED-STDERR on stderr.
refused() {
	local args=() want status err
	while [[ "$1" != -- ]]; do
		args+=("$1")
		shift
	done
	want=$2
	timeout 20 "$RWFS" -f "${args[@]}" "$TEST_TMP/t/m" >out.txt 2>err.txt
	status=$?
	if is_mounted "$TEST_TMP/t/m"; then
		unmount "$TEST_TMP/t/m"
		fail "rwfs ${args[*]} mounted"
	fi
	err=$(cat err.txt)
	assert_eq 1 "$status" "exit status of rwfs ${args[*]} (stderr: $err)"
	assert_eq "$want" "$err" "stderr of rwfs ${args[*]}"
	assert_eq 1 "$(wc -l <err.txt)" "lines on stderr of rwfs ${args[*]}"
	assert_eq "" "$(cat out.txt)" "stdout of rwfs ${args[*]}"
}

# --- users ---------------------------------------------------------------

h=$(hash6 "p4ss-word")
if [[ "$h" == '$6$'* ]]; then
	mkdir state.u
	printf '%s\n' "carol:$h" "nocolon" >users1
	refused --state=state.u --users=users1 -- "rwfs: users1:2: missing ':' (want USER:HASH)"
	printf '%s\n' "carol:$h" 'dave:$6$bad' >users2
	refused --state=state.u --users=users2 -- "rwfs: users2:2: user 'dave': crypt(3) cannot use the hash"
	printf '%s\n' '# a bare setting matches no password' 'dave:$6$saltsalt$' >users3
	refused --state=state.u --users=users3 -- "rwfs: users3:2: user 'dave': crypt(3) cannot use the hash"
	printf '%s\n' "carol:$h" "" "# again" "carol:$h" >users4
	refused --state=state.u --users=users4 -- "rwfs: users4:4: duplicate user 'carol' (first on line 1)"
	printf '%s\n' "bad name:$h" >users5
	refused --state=state.u --users=users5 -- \
		"rwfs: users5:1: bad user name 'bad name' (1-64 of A-Z a-z 0-9 . _ -)"
	printf '%s\n' "carol:" >users6
	refused --state=state.u --users=users6 -- "rwfs: users6:1: user 'carol': crypt(3) cannot use the hash"
	refused --state=state.u --users=no-such-file -- "rwfs: no-such-file: No such file or directory"
	refused --state=state.u --users="$TEST_TMP/t" -- "rwfs: $TEST_TMP/t: Is a directory"

	# A good file: comments, blank lines, blanks around a line, CRLF.
	printf '# users\r\n\r\n  carol:%s  \r\n\terin:%s\n' "$h" "$(hash6 'erin-pw')" >users.ok
	start_rwfs u --state="$TEST_TMP/t/state.u" --users="$TEST_TMP/t/users.ok"
	out=$(timeout 10 "$PYTHON" "$FSIO" ctl "$TEST_TMP/u/shop" $'login carol p4ss-word\n')
	assert_match $'^OK\nok [0-9a-f]{32}$' "$out" "login carol with the users file"
	out=$(timeout 10 "$PYTHON" "$FSIO" ctl "$TEST_TMP/u/shop" $'login erin erin-pw\n')
	assert_match $'^OK\nok [0-9a-f]{32}$' "$out" "login erin with the users file"
	out=$(timeout 10 "$PYTHON" "$FSIO" ctl "$TEST_TMP/u/shop" $'login alice wonderland\n')
	assert_eq $'OK\nerror wrong user or password' "$out" "a demo user with a users file"
	stop_rwfs u || fail "exit status with a good users file"
else
	echo "note: no tool makes crypt(3) hashes here; only unreadable users files are tested"
	mkdir state.u
	refused --state=state.u --users=no-such-file -- "rwfs: no-such-file: No such file or directory"
fi

# --- inventory -----------------------------------------------------------

mkdir state.i
printf 'upc,name,count\n1,a,2\n2,b\n' >inv1
refused --state=state.i --inventory=inv1 -- "rwfs: inv1:3: want 3 fields (upc,name,count), got 2"
printf '1,a,2\n2,b,x\n' >inv2
refused --state=state.i --inventory=inv2 -- "rwfs: inv2:2: bad count 'x' (an integer 0..9223372036854775807)"
printf '1,a,-1\n' >inv3
refused --state=state.i --inventory=inv3 -- "rwfs: inv3:1: bad count '-1' (an integer 0..9223372036854775807)"
printf 'upc,name,count\n0,zero,1\n' >inv4
refused --state=state.i --inventory=inv4 -- "rwfs: inv4:2: bad upc '0' (a positive integer)"
printf 'upc,name,count\nfoo,bar,1\n' >inv5
refused --state=state.i --inventory=inv5 -- "rwfs: inv5:2: bad upc 'foo' (a positive integer)"
printf 'upc,name,count\n1,a,2\n\n2,b,3\n1,c,4\n' >inv6
refused --state=state.i --inventory=inv6 -- "rwfs: inv6:5: duplicate upc 1 (first on line 2)"
printf '1,,2\n' >inv7
refused --state=state.i --inventory=inv7 -- "rwfs: inv7:1: bad name '' (1-64 bytes, no control characters)"
printf '1,a,2,3\n' >inv8
refused --state=state.i --inventory=inv8 -- "rwfs: inv8:1: want 3 fields (upc,name,count), got 4"
refused --state=state.i --inventory=no-such.csv -- "rwfs: no-such.csv: No such file or directory"

# A good file seeds an empty state (after the failures above, still empty):
# blanks around fields, CRLF, a blank line, a name with spaces; the
# inventory comes out in UPC order.
printf 'upc , name , count\r\n 8 , green apple , 3 \r\n\r\n7,kiwi,0\r\n' >good.csv
start_rwfs i --state="$TEST_TMP/t/state.i" --inventory="$TEST_TMP/t/good.csv"
assert_bytes "$TEST_TMP/i/inventory" $'7 kiwi 0\n8 green apple 3\n'
out=$(timeout 10 "$PYTHON" "$FSIO" ctl "$TEST_TMP/i/shop" $'login alice wonderland\n')
[[ "$out" =~ ^OK$'\n'ok\ ([0-9a-f]{32})$ ]] || fail "login alice: $out"
token=${BASH_REMATCH[1]}
out=$(timeout 10 "$PYTHON" "$FSIO" ctl "$TEST_TMP/i/shop" "buy $token 8 2"$'\n')
assert_eq $'OK\nok bought 2 green apple (8), 1 left' "$out" "buy from the seeded stock"
out=$(timeout 10 "$PYTHON" "$FSIO" ctl "$TEST_TMP/i/shop" "list $token"$'\n')
assert_eq $'OK\nok 2 products\n7 kiwi 0\n8 green apple 1' "$out" "list of the seeded stock"
stop_rwfs i || fail "exit status after seeding"

# Another file, or none: the stock stays what it was.
printf '8,green apple,100\n9,fig,5\n' >other.csv
start_rwfs i --state="$TEST_TMP/t/state.i" --inventory="$TEST_TMP/t/other.csv"
assert_bytes "$TEST_TMP/i/inventory" $'7 kiwi 0\n8 green apple 1\n'
stop_rwfs i || fail "exit status with another inventory"
start_rwfs i --state="$TEST_TMP/t/state.i"
assert_bytes "$TEST_TMP/i/inventory" $'7 kiwi 0\n8 green apple 1\n'
# Sold out is still stock: no refill either.
out=$(timeout 10 "$PYTHON" "$FSIO" ctl "$TEST_TMP/i/shop" "buy $token 8 1"$'\n')
assert_eq $'OK\nok bought 1 green apple (8), 0 left' "$out" "buy the last unit"
stop_rwfs i || fail "exit status"
start_rwfs i --state="$TEST_TMP/t/state.i" --inventory="$TEST_TMP/t/other.csv"
assert_bytes "$TEST_TMP/i/inventory" $'7 kiwi 0\n8 green apple 0\n'
stop_rwfs i || fail "exit status"

# Without any file, a new state gets the demo stock.
mkdir state.demo
start_rwfs i --state="$TEST_TMP/t/state.demo"
assert_bytes "$TEST_TMP/i/inventory" $'1001 apple 10\n1002 banana 20\n1003 cherry 5\n'
