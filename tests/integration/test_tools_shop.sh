#!/usr/bin/env bash
# tools/shop: the subcommands (login, whoami, list, buy, local, logout) and
# their exit statuses, the text menu driven by a scripted stdin, the local
# state file (mode 0600, the local inventory surviving new runs of the
# tool and a logout), concurrent buyers sharing one state file, and the
# error cases.  Demo data: alice/wonderland, bob/builder; 1001 apple 10,
# 1002 banana 20, 1003 cherry 5.
. "$(dirname "$0")/lib.sh"

# The tools under test: $TOOLS (the Makefile points it at a sanitizer
# build), else the repository's tools/.
tools=${TOOLS:-$ROOT/tools}
[[ "$tools" == /* ]] || tools=$ROOT/$tools
shop_bin=$tools/shop
[[ -x "$shop_bin" ]] || fail "$shop_bin is not built"
# Our files in a directory of their own: run.sh reads $TEST_TMP/*.err as
# the daemons' stderr.
mkdir "$TEST_TMP/t" && cd "$TEST_TMP/t" || fail "cannot make $TEST_TMP/t"
mkdir home
export HOME=$TEST_TMP/t/home

# shop ARGS...: runs the tool on the test's mount with the state in
# $TEST_TMP/t/state; sets OUT, ERR and STATUS.
shop() {
	OUT=$(timeout 20 "$shop_bin" --mount "$MNT" --state "$TEST_TMP/t/state" "$@" 2>"$TEST_TMP/t/shop.err")
	STATUS=$?
	ERR=$(cat "$TEST_TMP/t/shop.err")
}

# Usage.
out=$(timeout 10 "$shop_bin" --help) || fail "shop --help failed"
assert_match '^usage: ' "$out" "shop --help"
assert_contains "$out" "--state" "shop --help"
for args in "--bogus" "bogus" "buy 1001" "buy x 1" "buy 1001 two" "login" "list extra"; do
	# shellcheck disable=SC2086
	shop $args
	assert_eq 2 "$STATUS" "exit status of shop $args"
	assert_match "^shop: .*; see shop --help$" "$ERR" "stderr of shop $args"
done

# Not logged in yet.
shop whoami
assert_eq 1 "$STATUS" "exit status of whoami before login"
assert_eq "shop: not logged in: run 'shop login USER' first" "$ERR" "whoami before login"
shop list
assert_eq 1 "$STATUS" "exit status of list before login"
shop local
assert_eq 0 "$STATUS" "exit status of local before any purchase"
assert_eq "" "$OUT" "local before any purchase"

# Login: a wrong password, then the right one (one line of stdin).
shop login alice <<<"wrong"
assert_eq 1 "$STATUS" "exit status of a wrong password"
assert_eq "shop: wrong user or password" "$ERR" "a wrong password"
[[ -e state ]] && grep -q '^token' state && fail "a failed login saved a token"
shop login alice <<<"wonderland"
assert_eq 0 "$STATUS" "exit status of login: $ERR"
assert_eq "logged in as alice" "$OUT" "login"
assert_eq 600 "$(stat -c %a state)" "mode of the state file"
assert_match $'(^|\n)token [0-9a-zA-Z]+(\n|$)' "$(cat state)" "token in the state file"
[[ -e state.tmp ]] && fail "state.tmp left behind"
shop whoami
assert_eq "0 alice" "$STATUS $OUT" "whoami"

# The server's inventory, purchases and their refusals.
shop list
assert_eq 0 "$STATUS" "exit status of list"
assert_eq $'1001 apple 10\n1002 banana 20\n1003 cherry 5' "$OUT" "list"
shop buy 1001 2
assert_eq "0 bought 2 apple (1001), 8 left" "$STATUS $OUT" "buy 1001 2"
shop buy 1003 6
assert_eq 1 "$STATUS" "exit status of buying too many"
assert_eq "shop: insufficient stock: 1003 has 5" "$ERR" "buying too many"
shop buy 9999 1
assert_eq "1 shop: unknown upc 9999" "$STATUS $ERR" "buying an unknown upc"
shop buy 1001 0
assert_eq "1 shop: quantity must be 1..1000000" "$STATUS $ERR" "buying 0"
shop buy 1001 1
assert_eq "0 bought 1 apple (1001), 7 left" "$STATUS $OUT" "buy 1001 1"
shop local
assert_eq "0 1001 apple 3" "$STATUS $OUT" "local inventory, accumulated"
assert_contains "$(cat "$MNT/inventory")" "1001 apple 7" "mnt/inventory after the purchases"

# Logout keeps the local inventory; the token is gone.
shop logout
assert_eq "0 logged out" "$STATUS $OUT" "logout"
grep -q '^token' state && fail "logout left the token in the state file"
shop whoami
assert_eq 1 "$STATUS" "exit status of whoami after logout"
shop logout
assert_eq 1 "$STATUS" "exit status of a second logout"
shop local
assert_eq "0 1001 apple 3" "$STATUS $OUT" "local inventory after logout"

# The menu, on a scripted stdin: login as bob, the server's inventory,
# a purchase, a refused one, the local inventory, logout, quit.
printf '%s\n' 4 2 1 bob builder 2 4 1002 5 4 1003 99 3 5 5 7 0 >menu.in
shop <menu.in
assert_eq 0 "$STATUS" "exit status of the menu: $ERR"
for want in "1) login  2) view server inventory  3) view local inventory  4) purchase  5) logout  0) quit" \
	"choice> " "not logged in: choose 1 first" "user: bob" "password: " "logged in as bob" \
	"server inventory (3 products):" "1002     banana" "upc: 1002" "quantity: 5" \
	"bought 5 banana (1002), 15 left" "cannot buy: insufficient stock: 1003 has 5" \
	"local inventory of bob:" "logged out" "not logged in" "unknown choice '7'" "bye"; do
	assert_contains "$OUT" "$want" "menu transcript"
done
assert_not_contains "$OUT" "builder" "menu transcript (the password)"
assert_match $'local inventory of bob:\n +UPC +NAME +QTY\n +1002 +banana +5\n' "$OUT" "menu's local inventory"

# A new run of the tool restores the state: bob's purchase, alice's too.
printf '1\nbob\nbuilder\n3\n' >menu2.in
shop <menu2.in
assert_eq 0 "$STATUS" "exit status of the menu at end of input"
assert_match $'1002 +banana +5\n' "$OUT" "local inventory in a new run"
shop whoami
assert_eq "0 bob" "$STATUS $OUT" "the session of the menu, seen by a new run"
shop local
assert_eq "0 1002 banana 5" "$STATUS $OUT" "bob's local inventory"
shop login alice <<<"wonderland"
shop local
assert_eq "0 1001 apple 3" "$STATUS $OUT" "alice's local inventory after logging in again"

# Concurrent buyers on one state file: never oversold, nothing lost locally.
for i in 1 2 3 4 5 6 7 8; do
	timeout 20 "$shop_bin" --mount "$MNT" --state "$TEST_TMP/t/state" buy 1003 1 >"buy$i.out" 2>"buy$i.err" &
	buyers[i]=$!
done
ok=0
for i in 1 2 3 4 5 6 7 8; do
	wait "${buyers[i]}" && ok=$((ok + 1))
done
assert_eq 5 "$ok" "purchases of 1003 that succeeded (stock 5)"
assert_eq 3 "$(grep -l 'insufficient stock: 1003 has 0' buy?.err | wc -l)" "purchases refused"
shop local
assert_eq $'0 1001 apple 3\n1003 cherry 5' "$STATUS $OUT" "local inventory after concurrent buys"

# The default state file is $HOME/.rwfs-shop.
out=$(timeout 10 "$shop_bin" --mount "$MNT" login bob <<<"builder") || fail "login with the default state failed"
[[ -f home/.rwfs-shop ]] || fail "no \$HOME/.rwfs-shop"
assert_eq 600 "$(stat -c %a home/.rwfs-shop)" "mode of \$HOME/.rwfs-shop"

# Errors: no mount, a damaged state file.
mkdir plain
err=$(timeout 10 "$shop_bin" --mount plain --state "$TEST_TMP/t/state2" login alice 2>&1 <<<"wonderland")
assert_eq 1 "$?" "exit status of shop on a plain directory"
assert_eq "shop: 'plain' is not an rwfs mount (no ctl file there)" "$err" "shop on a plain directory"
echo "garbage here" >bad-state
err=$(timeout 10 "$shop_bin" --mount "$MNT" --state bad-state local 2>&1)
assert_eq 1 "$?" "exit status of shop with a damaged state file"
assert_contains "$err" "'bad-state' line 1 is not a shop state line" "shop with a damaged state file"
assert_eq "garbage here" "$(cat bad-state)" "the damaged state file, untouched"
exit 0
