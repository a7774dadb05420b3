#!/usr/bin/env bash
# -o allow_other: every local user sees the mount, and owners decide as on
# a disk.  What a user makes is theirs (uid, gid, the mode less the umask),
# queues/ and files/ are sticky as /tmp, -o default_permissions is implied
# (the kernel checks the modes), chmod is the owner's, chown root's.  The
# owners survive a restart.  With -o no_default_permissions reading and
# writing are open to all again; the rules of ownership stay.
. "$(dirname "$0")/lib.sh"

NOBODY=65534
umask 022
chmod 0711 "$TEST_TMP" # nobody reaches the mount point below

as_nobody() {
	timeout 10 setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups -- "$@"
}

# refused WHAT MESSAGE COMMAND...: COMMAND, run as nobody, fails saying MESSAGE.
refused() {
	local what=$1 message=$2 out
	shift 2
	out=$(as_nobody "$@" 2>&1) && fail "$what: nobody was let through"
	assert_contains "$out" "$message" "$what"
}

# one_item QUEUE: one read of QUEUE as nobody (one item, or an error).
one_item() {
	as_nobody dd if="$1" bs=4096 count=1 status=none 2>&1
}

# The daemon's own checks, with and without the kernel's: chmod, chown and
# the removal of what is not nobody's.
ownership_holds() {
	refused "chmod a-w of root's queue ($1)" "Operation not permitted" chmod a-w "$Q/rq"
	refused "chown of nobody's queue ($1)" "Operation not permitted" chown 0 "$Q/nq2"
	refused "chmod of root's file ($1)" "Operation not permitted" chmod 0666 "$F/rf"
	refused "rm of root's queue ($1)" "Operation not permitted" rm -f "$Q/rq"
	refused "rm of root's file ($1)" "Operation not permitted" rm -f "$F/rf"
	refused "mv of root's file ($1)" "Operation not permitted" mv "$F/rf" "$F/mine"
	refused "user.remove of root's queue ($1)" "Operation not permitted" \
		setfattr -n user.remove -v rq "$Q"
	refused "user.seal of root's queue ($1)" "Operation not permitted" \
		setfattr -n user.seal -v rq "$Q"
	assert_eq "600 0" "$(stat -c '%a %u' "$Q/rq")" "root's queue is left as it was ($1)"
	assert_eq "644 0" "$(stat -c '%a %u' "$F/rf")" "root's file is left as it was ($1)"
}

state=$TEST_TMP/state
start_rwfs ao --state="$state" -o allow_other
M=$TEST_TMP/ao
Q=$M/queues
F=$M/files

# --- the directories and the built-in files ---------------------------------

assert_eq "1777 0 0" "$(stat -c '%a %u %g' "$Q")" "queues/ is sticky and the daemon's"
assert_eq "1777 0 0" "$(stat -c '%a %u %g' "$F")" "files/ is sticky and the daemon's"
assert_eq "666 0" "$(stat -c '%a %u' "$M/A")" "a register stays the daemon's"
assert_eq "666 0" "$(stat -c '%a %u' "$M/shop")" "the shop stays the daemon's"
refused "chmod of files/" "Operation not permitted" chmod 0777 "$F"

# --- what nobody makes is nobody's ------------------------------------------

as_nobody touch "$Q/nq" || fail "nobody: touch queues/nq"
as_nobody mkfifo "$Q/nq2" || fail "nobody: mkfifo queues/nq2"
as_nobody sh -c "umask 077 && echo hi >'$F/nf'" || fail "nobody: echo hi > files/nf"
as_nobody mkdir "$F/nd" || fail "nobody: mkdir files/nd"
assert_eq "65534 65534 644" "$(stat -c '%u %g %a' "$Q/nq")" "nobody's queue"
assert_eq "65534 65534 600" "$(stat -c '%u %g %a' "$F/nf")" "nobody's file (umask 077)"
assert_eq "65534 65534 755" "$(stat -c '%u %g %a' "$F/nd")" "nobody's directory"

# nobody's own queue works for nobody: push, pop, seal, unseal, remove
as_nobody sh -c "echo job >'$Q/nq'" || fail "nobody: push to nobody's queue"
assert_eq job "$(one_item "$Q/nq")" "nobody pops nobody's item"
as_nobody chmod a-w "$Q/nq" || fail "nobody: chmod a-w of nobody's queue"
assert_eq 444 "$(stat -c %a "$Q/nq")" "nobody sealed nobody's queue"
as_nobody chmod u+w "$Q/nq" || fail "nobody: chmod u+w of nobody's queue"
assert_eq 644 "$(stat -c %a "$Q/nq")" "nobody unsealed nobody's queue"
as_nobody rm "$Q/nq" || fail "nobody: rm of nobody's queue"
[[ ! -e "$Q/nq" ]] || fail "nobody's queue is still there"

# --- root's are not nobody's --------------------------------------------------

touch "$Q/rq" || fail "touch queues/rq"
echo root >"$F/rf" || fail "echo root > files/rf"
mkdir "$F/rd" || fail "mkdir files/rd"
assert_eq "0 644" "$(stat -c '%u %a' "$Q/rq")" "root's queue (umask 022)"
refused "push to root's 0644 queue" "Permission denied" sh -c "echo x >'$Q/rq'"
refused "append to root's 0644 file" "Permission denied" sh -c "echo x >>'$F/rf'"
refused "a file in root's 0755 directory" "Permission denied" touch "$F/rd/f"
echo secret >"$Q/rq" || fail "root: push to its own queue"
assert_eq secret "$(one_item "$Q/rq")" "mode 0644: others may read (pop)"
echo secret >"$Q/rq" || fail "root: push to its own queue"
chmod 0600 "$Q/rq" || fail "root: chmod 0600 of its queue"
assert_contains "$(one_item "$Q/rq")" "Permission denied" "pop of root's 0600 queue"
ownership_holds "default_permissions"

# root may chown, and may remove anything
chown 1000:1000 "$F/nf" || fail "root: chown of nobody's file"
chown 1000:100 "$Q/nq2" || fail "root: chown of nobody's queue"
assert_eq "1000 1000" "$(stat -c '%u %g' "$F/nf")" "the file root gave away"
assert_eq "1000 100" "$(stat -c '%u %g' "$Q/nq2")" "the queue root gave away"
chown 65534:65534 "$Q/nq2" || fail "root: chown of the queue back"
refused "a chown by a non-owner" "Operation not permitted" chown 65534 "$F/nf"

# --- the owners are in the state: a restart keeps them ------------------------

stop_rwfs ao || fail "the daemon's exit status after the unmount"
dump=$("$RWFS" --dump --state="$state") || fail "--dump failed"
assert_contains "$dump" 'QUEUE_CREATE "rq" 100 owner 0:0 mode 0644' "--dump of root's queue"
assert_contains "$dump" 'owner 65534:65534' "--dump of nobody's creates"
start_rwfs ao --state="$state" -o allow_other
assert_eq "0 600" "$(stat -c '%u %a' "$Q/rq")" "root's queue after the restart"
assert_eq "65534 65534 644" "$(stat -c '%u %g %a' "$Q/nq2")" "nobody's queue after the restart"
assert_eq "1000 1000 600" "$(stat -c '%u %g %a' "$F/nf")" "the file given away, after the restart"
assert_eq "65534 755" "$(stat -c '%u %a' "$F/nd")" "nobody's directory after the restart"
ownership_holds "after the restart"

# --- no_default_permissions: reading and writing are open again ---------------

stop_rwfs ao || fail "the daemon's exit status after the second unmount"
start_rwfs ao --state="$state" -o allow_other,no_default_permissions
as_nobody sh -c "echo open >'$Q/rq'" || fail "no_default_permissions: push to root's 0600 queue"
assert_eq secret "$(one_item "$Q/rq")" "no_default_permissions: pop of root's 0600 queue"
as_nobody sh -c "echo more >>'$F/rf'" || fail "no_default_permissions: append to root's file"
as_nobody touch "$F/rd/f" || fail "no_default_permissions: a file in root's directory"
ownership_holds "no_default_permissions"
stop_rwfs ao || fail "the daemon's exit status after the third unmount"

out=$("$RWFS" -f -o allow_other,default_permissions --no-default-permissions \
	--state="$state" "$M" 2>&1)
assert_eq 2 "$?" "exit status of contradicting options"
assert_contains "$out" "contradict each other" "the message of contradicting options"
