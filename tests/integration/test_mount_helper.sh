#!/usr/bin/env bash
# mount(8) and fstab start rwfs after make install: `mount -t fuse.rwfs
# rwfs DIR -o state=...` and the fstab line of the SPEC, through the helper
# mount.fuse.rwfs and, without it, through mount.fuse3 (which runs rwfs
# from the standard PATH as `rwfs rwfs DIR -o OPTIONS`).  mount(8) looks
# for helpers in /sbin only: a private mount namespace shows it the
# installed helper there, and the installed bin directory as /usr/local/bin.
. "$(dirname "$0")/lib.sh"

# A make test above this one hands its variables (SAN=1, WERROR=...) down
# through the environment: this build is a packager's, without them.
unset MAKEFLAGS MAKELEVEL MFLAGS MAKEOVERRIDES WERROR SAN BUILD

command -v mount.fuse3 >/dev/null || fail "mount.fuse3 is missing (package fuse3)"
src=$TEST_TMP/src prefix=$TEST_TMP/prefix
mkdir "$src"
cp -r "$ROOT/Makefile" "$ROOT/fs" "$ROOT/tools" "$ROOT/man" "$ROOT/contrib" "$src/" ||
	fail "cannot copy the source"
make -s -C "$src" clean >/dev/null || fail "make clean"
# Without link-time optimisation, which only slows this build: the
# helper is what is under test here, and test_install builds as it ships.
make -C "$src" -j2 install PREFIX="$prefix" NO_LTO=1 >"$TEST_TMP/install.log" 2>&1 ||
	fail "make install failed: $(tail -n 20 "$TEST_TMP/install.log")"

state=$TEST_TMP/state dir=$TEST_TMP/m work=$TEST_TMP/cwd
mkdir "$state" "$dir" "$work"
at_exit 'unmount "$dir"'

# mounted_rwfs: DIR is an rwfs mount of source rwfs that answers.
mounted_rwfs() {
	awk -v d="$dir" '$2 == d && $1 == "rwfs" && $3 == "fuse.rwfs" { f = 1 } END { exit !f }' \
		/proc/self/mounts || fail "$dir is not an rwfs mount: $(grep " $dir " /proc/self/mounts)"
	timeout 5 cat "$dir/A" >/dev/null || fail "cannot read $dir/A"
}

# mount.fuse3 as mount(8) runs it without a helper; the options of rwfs
# are mount options, so no ./rwfs.state is made in the working directory.
(cd "$work" && PATH=$prefix/bin:$PATH mount.fuse3 rwfs "$dir" -o "state=$state,sync=always") ||
	fail "mount.fuse3 rwfs $dir -o state=... failed"
mounted_rwfs
echo 41 >"$dir/A" || fail "echo 41 > A"
unmount "$dir" || fail "cannot unmount"
assert_eq "" "$(ls -A "$work")" "files mount.fuse3 left in the working directory"
out=$(cd "$work" && PATH=$prefix/bin:$PATH mount.fuse3 rwfs "$dir" -o "state=$state,bogus" 2>&1)
[[ $? -ne 0 ]] || fail "mount.fuse3 with -o bogus succeeded"
assert_contains "$out" "bogus" "the complaint about -o bogus"
assert_eq "" "$(ls -A "$work")" "files a refused mount left in the working directory"
! is_mounted "$dir" || fail "mounted with -o bogus"

# The helper, called as mount(8) calls it.
(cd "$work" && env PATH=/usr/sbin:/usr/bin:/sbin:/bin "$prefix/sbin/mount.fuse.rwfs" rwfs "$dir" \
	-o "rw,state=$state") || fail "mount.fuse.rwfs rwfs $dir -o rw,state=... failed"
mounted_rwfs
assert_bytes "$dir/A" $'41\n'
unmount "$dir" || fail "cannot unmount"

# mount(8) itself, in a namespace of the test's own.
cat >"$TEST_TMP/fstab" <<EOF
rwfs $dir fuse.rwfs state=$state,allow_other 0 0
EOF
cat >"$TEST_TMP/ns.sh" <<'SCRIPT'
set -eu
tmp=$1 prefix=$2 dir=$3 state=$4
trap 'umount -l "$dir" 2>/dev/null || true' EXIT
# check VALUE: DIR is an rwfs mount whose register A holds VALUE.
check() {
	grep -q "^rwfs $dir fuse.rwfs " /proc/self/mounts
	[ "$(cat "$dir/A")" = "$1" ]
}
# /sbin is /usr/sbin: a copy of it made of links to the real one, and the helper.
mkdir "$tmp/real-sbin" "$tmp/sbin"
mount --bind /usr/sbin "$tmp/real-sbin"
for f in "$tmp"/real-sbin/*; do ln -s "$f" "$tmp/sbin/${f##*/}"; done
ln -s "$prefix/sbin/mount.fuse.rwfs" "$tmp/sbin/mount.fuse.rwfs"
mount --bind "$prefix/bin" /usr/local/bin

# Without the helper: mount.fuse3 finds rwfs in /usr/local/bin.  From a
# directory that holds a file named rwfs, which mount(8) then passes on as
# the source's path.
mkdir "$tmp/ns-cwd"
touch "$tmp/ns-cwd/rwfs"
cd "$tmp/ns-cwd"
mount -t fuse.rwfs rwfs "$dir" -o "state=$state"
check 41
echo 42 >"$dir/A"
umount "$dir"

# With the helper in /sbin, and the fstab line.
mount --bind "$tmp/sbin" /usr/sbin
[ -x /sbin/mount.fuse.rwfs ]
mount -t fuse.rwfs rwfs "$dir" -o "state=$state"
check 42
umount "$dir"
mount -T "$tmp/fstab" "$dir"
check 42
grep " $dir fuse.rwfs " /proc/self/mounts | grep -q allow_other
umount "$dir"
SCRIPT
timeout 30 unshare --mount --propagation private bash -x "$TEST_TMP/ns.sh" "$TEST_TMP" "$prefix" "$dir" \
	"$state" >"$TEST_TMP/ns.log" 2>&1 || fail "mount(8) in a private namespace: $(tail -n 15 "$TEST_TMP/ns.log")"
