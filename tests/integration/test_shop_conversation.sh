#!/usr/bin/env bash
# mnt/shop as a conversation with the demo data (alice/wonderland,
# bob/builder; 1001 apple 10, 1002 banana 20, 1003 cherry 5): every reply
# form, the refusals that are "error ..." replies of a successful write(),
# the malformed requests that fail the write() with EINVAL (and still leave
# their reply to read), the 1024-byte bound (EMSGSIZE), logout, the reply
# as a stream on one open file, the shell form with exec 3<>, mnt/inventory
# after the purchases, and the modes of both files.
. "$(dirname "$0")/lib.sh"

shop=$MNT/shop
inventory=$MNT/inventory
demo=$'1001 apple 10\n1002 banana 20\n1003 cherry 5\n'

# The files: shop read-write, inventory read-only (and really so).
mode_of() { # PATH: the mode column of ls -l
	local line
	line=$(timeout 10 ls -l "$1") || fail "ls -l $1 failed"
	printf '%s' "${line%% *}"
}
assert_eq "-rw-rw-rw-" "$(mode_of "$shop")" "ls -l mnt/shop"
assert_eq "-r--r--r--" "$(mode_of "$inventory")" "ls -l mnt/inventory"
assert_bytes "$inventory" "$demo"
assert_eq "${#demo}" "$(timeout 10 stat -c %s "$inventory")" "size of mnt/inventory"
expect_errno open:EACCES "$inventory" $'1001 apple 99\n'
expect_errno open:EACCES "$inventory" $'1001 apple 99\n' --trunc
timeout 10 truncate -s 0 "$inventory" 2>/dev/null && fail "truncate -s 0 mnt/inventory succeeded"
timeout 10 "$PYTHON" -c '
import errno, os, sys
try:
    os.open(sys.argv[1], os.O_RDWR)
except OSError as e:
    sys.exit(0 if e.errno == errno.EACCES else "O_RDWR open of inventory: %s" % e)
sys.exit("O_RDWR open of inventory succeeded")' "$inventory" || fail "inventory opened read-write"
assert_bytes "$inventory" "$demo"

# The conversation through the mount: one request per write(), its reply
# read to EOF on the same open file.
timeout 30 "$PYTHON" - "$shop" "$inventory" <<'PY' || fail "conversation (see above)"
import errno, os, re, sys

shop, inventory = sys.argv[1], sys.argv[2]
failures = 0


def bad(msg):
    global failures
    failures += 1
    print("FAIL: " + msg, file=sys.stderr)


def read_to_eof(fd):
    out = b""
    for _ in range(1000):
        chunk = os.read(fd, 65536)
        if not chunk:
            return out
        out += chunk
    bad("the reply never ends")
    return out


def call(request, fd=None):
    """One write() of request on a fresh (or the given) open file, then the
    reply to EOF.  Returns (OK or the errno name, reply bytes)."""
    data = request if isinstance(request, bytes) else request.encode()
    own = fd is None
    if own:
        fd = os.open(shop, os.O_RDWR)
    status = "OK"
    try:
        n = os.write(fd, data)
        if n != len(data):
            status = "short:%d" % n
    except OSError as e:
        status = errno.errorcode.get(e.errno, str(e.errno))
    reply = read_to_eof(fd)
    if own:
        os.close(fd)
    return status, reply


def expect(request, status, reply, fd=None):
    """reply: bytes (exact) or a compiled regex (fullmatch)."""
    got_status, got = call(request, fd)
    shown = request if len(request) < 80 else request[:60] + "...(%d bytes)" % len(request)
    ok_reply = reply.fullmatch(got) if hasattr(reply, "fullmatch") else got == reply
    if got_status != status or not ok_reply:
        want = reply.pattern if hasattr(reply, "pattern") else reply
        bad("request %r: expected %s %r, got %s %r" % (shown, status, want, got_status, got))
    return got


def inventory_text():
    with open(inventory, "rb") as f:
        return f.read()


TOKEN = re.compile(rb"ok ([0-9a-f]{32})\n")


def login(user, password):
    got = expect("login %s %s\n" % (user, password), "OK", TOKEN)
    m = TOKEN.fullmatch(got)
    return m.group(1).decode() if m else "0" * 32


a = login("alice", "wonderland")
b = login("bob", "builder")
a2 = login("alice", "wonderland")
if len({a, b, a2}) != 3:
    bad("tokens repeat: %s %s %s" % (a, b, a2))
expect("whoami %s\n" % a, "OK", b"ok alice\n")
expect("whoami %s\n" % b, "OK", b"ok bob\n")
expect("whoami %s\n" % a2, "OK", b"ok alice\n")

# list, buy and every refusal of a purchase: a successful write().
expect("list %s\n" % a, "OK",
       b"ok 3 products\n1001 apple 10\n1002 banana 20\n1003 cherry 5\n")
expect("buy %s 1001 2\n" % a, "OK", b"ok bought 2 apple (1001), 8 left\n")
expect("buy %s 1003 6\n" % a, "OK", b"error insufficient stock: 1003 has 5\n")
expect("buy %s 1001 1000000\n" % b, "OK", b"error insufficient stock: 1001 has 8\n")
expect("buy %s 9999 1\n" % a, "OK", b"error unknown upc 9999\n")
for qty in ("0", "1000001", "-1", "-9223372036854775808"):
    expect("buy %s 1001 %s\n" % (a, qty), "OK", b"error quantity must be 1..1000000\n")
# Checked in this order: token, quantity, upc, stock.
expect("buy %s 9999 0\n" % ("f" * 32), "OK", b"error not logged in\n")
expect("buy %s 9999 0\n" % a, "OK", b"error quantity must be 1..1000000\n")
expect("buy %s 9999 7\n" % a, "OK", b"error unknown upc 9999\n")

# Not logged in: a token that is no session, of any shape.
for tok in ("0" * 32, a.upper(), a[:-1], a + "0", "x", "z" * 200):
    for req in ("list %s\n", "whoami %s\n", "logout %s\n", "buy %s 1001 1\n"):
        expect(req % tok, "OK", b"error not logged in\n")

# Verbs in any case, blanks (spaces, tabs) around words, CRLF, sign.
expect("LIST %s\n" % b, "OK",
       b"ok 3 products\n1001 apple 8\n1002 banana 20\n1003 cherry 5\n")
expect("WhoAmI %s" % b, "OK", b"ok bob\n")
expect(" \tbuy\t%s  1002   19 \r\n" % b, "OK", b"ok bought 19 banana (1002), 1 left\n")
expect("Buy %s 1002 +1\n" % b, "OK", b"ok bought 1 banana (1002), 0 left\n")
expect("buy %s 1002 1\n" % b, "OK", b"error insufficient stock: 1002 has 0\n")

# Malformed: the write() fails with EINVAL, and the reply says why.
unknown = b"error unknown request '%s' (login, list, buy, logout, whoami)\n"
for req, reply in [
    ("\n", unknown % b""),
    ("   \n", unknown % b""),
    ("foo\n", unknown % b"foo"),
    ("foo bar baz\n", unknown % b"foo"),
    ("lists %s\n" % a, unknown % b"lists"),
    ("login\n", b"error usage: login USER PASSWORD\n"),
    ("login alice\n", b"error usage: login USER PASSWORD\n"),
    ("login alice wonder land\n", b"error usage: login USER PASSWORD\n"),
    ("login al!ce wonderland\n", b"error usage: login USER PASSWORD\n"),
    ("list\n", b"error usage: list TOKEN\n"),
    ("list %s %s\n" % (a, a), b"error usage: list TOKEN\n"),
    ("whoami\n", b"error usage: whoami TOKEN\n"),
    ("logout\n", b"error usage: logout TOKEN\n"),
    ("buy %s 1001\n" % a, b"error usage: buy TOKEN UPC QTY\n"),
    ("buy %s apple 1\n" % a, b"error usage: buy TOKEN UPC QTY\n"),
    ("buy %s 1001 two\n" % a, b"error usage: buy TOKEN UPC QTY\n"),
    ("buy %s 1001 1.5\n" % a, b"error usage: buy TOKEN UPC QTY\n"),
    ("buy %s 1001 99999999999999999999\n" % a, b"error usage: buy TOKEN UPC QTY\n"),
    ("buy %s 1001 1 1\n" % a, b"error usage: buy TOKEN UPC QTY\n"),
    ("whoami %s\nwhoami %s\n" % (a, a), b"error usage: whoami TOKEN\n"),
    ("whoami %s\n\n" % a, b"error usage: whoami TOKEN\n"),
    ("whoami %s\x01\n" % a, b"error usage: whoami TOKEN\n"),
]:
    expect(req, "EINVAL", reply)

# The bound: 1024 bytes, the newline included.  An unknown user, so that
# the failed logins do not throttle alice.
expect("login nobody " + "p" * 1010 + "\n", "OK", b"error wrong user or password\n")
expect("login nobody " + "p" * 1011, "OK", b"error wrong user or password\n")
expect("login nobody " + "p" * 1011 + "\n", "EMSGSIZE",
       b"error request too long (at most 1024 bytes)\n")
expect("list " + "a" * 5000 + "\n", "EMSGSIZE",
       b"error request too long (at most 1024 bytes)\n")
expect("buy %s 1001 1%s\n" % (a, " " * 1100), "EMSGSIZE",
       b"error request too long (at most 1024 bytes)\n")

# Logout ends that session only; the token is dead for every verb.
expect("logout %s\n" % a, "OK", b"ok logged out\n")
for req in ("whoami %s\n", "list %s\n", "logout %s\n", "buy %s 1001 1\n"):
    expect(req % a, "OK", b"error not logged in\n")
expect("whoami %s\n" % a2, "OK", b"ok alice\n")
expect("whoami %s\n" % b, "OK", b"ok bob\n")

# One open file, several requests: each reply replaces the one before and
# is read as a stream from its start, in pieces, then end of file.
fd = os.open(shop, os.O_RDWR)
if os.read(fd, 100) != b"":
    bad("a fresh open file of mnt/shop has something to read")
os.write(fd, ("whoami %s\n" % b).encode())
first = os.read(fd, 3)
rest = read_to_eof(fd)
if (first, rest) != (b"ok ", b"bob\n"):
    bad("reply in pieces: got %r + %r" % (first, rest))
if os.read(fd, 100) != b"":
    bad("a second read of the same reply was not end of file")
expect("buy %s 1001 1\n" % b, "OK", b"ok bought 1 apple (1001), 7 left\n", fd)
expect("nonsense\n", "EINVAL", unknown % b"nonsense", fd)
expect("whoami %s\n" % a2, "OK", b"ok alice\n", fd)
os.close(fd)

# What was bought is what mnt/inventory and list show, and nothing a
# refusal or a malformed request did changed it.
want = b"1001 apple 7\n1002 banana 0\n1003 cherry 5\n"
if inventory_text() != want:
    bad("mnt/inventory: expected %r, got %r" % (want, inventory_text()))
expect("list %s\n" % a2, "OK", b"ok 3 products\n" + want)
sys.exit(1 if failures else 0)
PY

bought=$'1001 apple 7\n1002 banana 0\n1003 cherry 5\n'
assert_bytes "$inventory" "$bought"
assert_eq "${#bought}" "$(timeout 10 stat -c %s "$inventory")" "size of mnt/inventory after the purchases"

# The shell form: one open file for both directions.
out=$(timeout 20 bash -c '
	exec 3<>"$1"
	echo "login alice wonderland" >&3
	login=$(cat <&3)
	echo "$login"
	token=${login#ok }
	echo "whoami $token" >&3
	cat <&3
	echo "buy $token 1003 2" >&3
	cat <&3
	cat <&3
	printf "%s\n" "list $token" >&3
	cat <&3
	exec 3>&-
' _ "$shop") || fail "the exec 3<> conversation failed: $out"
assert_match $'^ok [0-9a-f]{32}\nok alice\nok bought 2 cherry \\(1003\\), 3 left\nok 3 products\n1001 apple 7\n1002 banana 0\n1003 cherry 3$' \
	"$out" "the exec 3<> conversation"
assert_bytes "$inventory" $'1001 apple 7\n1002 banana 0\n1003 cherry 3\n'

# A plain `echo ... > mnt/shop` is a request too (its reply is not read).
echo 'login bob builder' >"$shop" || fail "echo login > mnt/shop failed"
echo 'nonsense' >"$shop" 2>/dev/null && fail "echo nonsense > mnt/shop succeeded"

# The event log names the requests and outcomes (written a moment later).
wait_until 5 grep -q "shop request -> error unknown request" "$RWFS_LOG"
log=$(cat "$RWFS_LOG")
assert_contains "$log" "shop login alice -> ok" "event log"
assert_contains "$log" "shop buy 1001 2 -> ok bought 2 apple (1001), 8 left" "event log"
assert_contains "$log" "shop buy 1003 6 -> error insufficient stock: 1003 has 5" "event log"
assert_contains "$log" "shop request -> error unknown request"$'\n' "event log"
assert_not_contains "$log" "'foo'" "the event log, an unknown verb"
assert_contains "$log" "shop logout -> ok logged out" "event log"
