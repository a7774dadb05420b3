#!/usr/bin/env bash
# make install and make uninstall, as a packager runs them: PREFIX and
# DESTDIR, the packager's CC, CFLAGS, CPPFLAGS and LDFLAGS and no -Werror;
# what lands where, and that the installed programs and pages work.  On a
# copy of the source, so that the checkout's build is left alone.
. "$(dirname "$0")/lib.sh"

# A make test above this one hands its variables (SAN=1, WERROR=...) down
# through the environment: this build is a packager's, without them.
unset MAKEFLAGS MAKELEVEL MFLAGS MAKEOVERRIDES WERROR SAN BUILD

src=$TEST_TMP/src
mkdir "$src"
cp -r "$ROOT/Makefile" "$ROOT/fs" "$ROOT/tools" "$ROOT/man" "$ROOT/contrib" "$src/" ||
	fail "cannot copy the source"
make -s -C "$src" clean >/dev/null || fail "make clean"

prefix=$TEST_TMP/prefix
flags=(CC=gcc "CFLAGS=-O2 -g0" CPPFLAGS=-DRWFS_PACKAGER_CPPFLAGS LDFLAGS=-Wl,-z,now)
make -C "$src" -j2 install PREFIX="$prefix" "${flags[@]}" >"$TEST_TMP/install.log" 2>&1 ||
	fail "make install failed: $(tail -n 20 "$TEST_TMP/install.log")"
log=$(cat "$TEST_TMP/install.log")
assert_not_contains "$log" "-Werror" "a packager's build"
assert_not_contains "$log" "-O2 -g " "the default CFLAGS in a packager's build"
grep -q -- '-c -o .*main\.o' <<<"$log" || fail "no compile line for main.o"
grep -- '-c -o .*main\.o' <<<"$log" | grep -q -- '-DRWFS_PACKAGER_CPPFLAGS.*-O2 -g0' ||
	fail "CPPFLAGS and CFLAGS not on the compile line: $(grep -- '-c -o .*main\.o' <<<"$log")"
grep -- '-o rwfs ' <<<"$log" | grep -q -- '-Wl,-z,now' || fail "LDFLAGS not on the daemon's link line"
grep -- '-o tools/producer ' <<<"$log" | grep -q -- '-Wl,-z,now' || fail "LDFLAGS not on a tool's link line"

want="bin/rwfs
bin/rwfs-consumer
bin/rwfs-groups
bin/rwfs-producer
bin/rwfs-records
bin/rwfs-shop
libexec/rwfs/common.sh
libexec/rwfs/reader.sh
libexec/rwfs/writer.sh
sbin/mount.fuse.rwfs
share/doc/rwfs/examples/rwfs.service
share/doc/rwfs/examples/srv-rwfs.mount
share/man/man1/rwfs-consumer.1
share/man/man1/rwfs-groups.1
share/man/man1/rwfs-producer.1
share/man/man1/rwfs-records.1
share/man/man1/rwfs-shop.1
share/man/man7/rwfs.7
share/man/man8/rwfs.8"
assert_eq "$want" "$(cd "$prefix" && find . -type f | sed 's|^\./||' | sort)" "installed files"
for f in bin/rwfs bin/rwfs-producer libexec/rwfs/reader.sh sbin/mount.fuse.rwfs; do
	[[ -x "$prefix/$f" ]] || fail "$f is not executable"
done

assert_match '^rwfs [0-9.]+ ' "$("$prefix/bin/rwfs" --version)" "installed rwfs --version"
for t in producer consumer records shop groups; do
	"$prefix/bin/rwfs-$t" --help >/dev/null || fail "installed rwfs-$t --help"
done
"$prefix/libexec/rwfs/reader.sh" --help >/dev/null || fail "installed reader.sh --help"
"$prefix/libexec/rwfs/writer.sh" --help >/dev/null || fail "installed writer.sh --help"
assert_contains "$(cat "$prefix/sbin/mount.fuse.rwfs")" "\"$prefix/bin/rwfs#" "the mount helper names the daemon"
assert_contains "$(cat "$prefix/share/doc/rwfs/examples/rwfs.service")" "ExecStart=$prefix/bin/rwfs -f" \
	"the service names the daemon"
assert_eq "$prefix/share/man/man1/rwfs-producer.1" "$(MANPATH=$prefix/share/man man -w rwfs-producer)" \
	"man finds the installed page"
assert_contains "$(MANPATH=$prefix/share/man MANWIDTH=80 man 8 rwfs 2>&1)" "--queue-capacity" \
	"man 8 rwfs"

# The installed daemon mounts; the installed tools reach it.
state=$TEST_TMP/state
mkdir "$state" "$TEST_TMP/m"
"$prefix/bin/rwfs" --state="$state" "$TEST_TMP/m" || fail "the installed rwfs did not mount"
at_exit 'unmount "$TEST_TMP/m"'
"$prefix/bin/rwfs-producer" --mount "$TEST_TMP/m" --count 3 jobs || fail "installed rwfs-producer"
assert_eq 3 "$("$prefix/bin/rwfs-consumer" --mount "$TEST_TMP/m" --timeout 1 --count 3 jobs | wc -l)" \
	"items through the installed tools"
unmount "$TEST_TMP/m" || fail "cannot unmount"

make -s -C "$src" uninstall PREFIX="$prefix" >/dev/null 2>&1 || fail "make uninstall failed"
assert_eq "" "$(find "$prefix" -type f)" "files left after make uninstall"

# DESTDIR stages the same tree; the paths inside name the final PREFIX.
stage=$TEST_TMP/stage
make -s -C "$src" install DESTDIR="$stage" PREFIX=/usr "${flags[@]}" >/dev/null 2>&1 ||
	fail "make install DESTDIR=... failed"
[[ -x "$stage/usr/bin/rwfs" && -f "$stage/usr/share/man/man8/rwfs.8" ]] ||
	fail "nothing staged under DESTDIR: $(cd "$stage" && find . -type f)"
assert_contains "$(cat "$stage/usr/sbin/mount.fuse.rwfs")" '"/usr/bin/rwfs#' "the staged mount helper"
make -s -C "$src" uninstall DESTDIR="$stage" PREFIX=/usr >/dev/null 2>&1 || fail "make uninstall DESTDIR=..."
assert_eq "" "$(find "$stage" -type f)" "files left after make uninstall DESTDIR=..."

# The project's own test build keeps warnings as errors.
assert_contains "$(make -C "$src" -n test 2>/dev/null)" "WERROR=-Werror" "make test"
