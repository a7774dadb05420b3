#!/usr/bin/env bash
# tools/groups, the ticket-server client: 3 groups of 4 readers and 2
# writers, 200 iterations each, under tickets: every read and write done,
# no violation.  Without tickets (--no-tickets) the same run finds torn
# reads and lost updates and says so with status 1.  Usage errors are
# status 2.
. "$(dirname "$0")/lib.sh"

tools=${TOOLS:-$ROOT/tools}
[[ "$tools" == /* ]] || tools=$ROOT/$tools
groups=$tools/groups
mkdir "$TEST_TMP/t" && cd "$TEST_TMP/t" || fail "cannot make $TEST_TMP/t"

timeout 120 "$groups" --mount "$MNT" --groups 3 --readers 4 --writers 2 --iterations 200 \
	>table.txt 2>err.txt || fail "groups with tickets: status $?: $(cat table.txt err.txt)"
for g in 0 1 2; do
	line=$(awk -v g="$g" '$1 == g' table.txt)
	assert_match "^$g +800 +400 +[1-4] +[0-9.]+ +0$" "$line" "group $g's row"
	assert_match "^[0-9]+ [0-9]+ 400 " "$(head -1 "$MNT/files/group-$g")" \
		"group $g's file counts its 400 writes"
done
wait_until 5 grep -q ' flock files/group-0 exclusive -> granted' "$RWFS_LOG" ||
	fail "no ticket grant of a group's file in the event log"

timeout 120 "$groups" --mount "$MNT" --groups 2 --iterations 500 --no-tickets >loose.txt 2>&1
status=$?
assert_eq 1 "$status" "status of the run without tickets"
assert_match "lost updates [1-9]" "$(cat loose.txt)" "lost updates without tickets"

for bad in "--groups 0" "--readers x" "--iterations" "extra" "--bogus"; do
	# shellcheck disable=SC2086 # the options are meant to split
	"$groups" --mount "$MNT" $bad >/dev/null 2>&1
	assert_eq 2 "$?" "status of groups $bad"
done
"$groups" --mount "$TEST_TMP/nowhere" >/dev/null 2>&1
assert_eq 1 "$?" "status of groups on a directory that is no mount"
"$groups" --help | grep -q '^usage: groups' || fail "groups --help"
