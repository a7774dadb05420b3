#!/usr/bin/env bash
# One read, one version: 50,000 reads of a shared file (or as many as 15 s
# allow, at least 10,000: a sanitizer build under load is slow) while a
# writer alternates two contents of different lengths with `echo >` (each
# an open with O_TRUNC and one write): every read() returns one whole
# version, never an empty or a half-written file, and both are seen.
. "$(dirname "$0")/lib.sh"

F=$MNT/files
short=short
long=$(printf 'long%.0s' $(seq 200))
echo "$short" >"$F/flip"
(while :; do echo "$long" >"$F/flip"; echo "$short" >"$F/flip"; done) &
writer=$!
timeout 50 "$PYTHON" - "$F/flip" "$short" "$long" <<'PY' >"$TEST_TMP/reads" 2>&1
import os, sys, time
path, a, b = sys.argv[1], (sys.argv[2] + "\n").encode(), (sys.argv[3] + "\n").encode()
seen = {a: 0, b: 0}
fd = os.open(path, os.O_RDONLY)
deadline = time.monotonic() + 15
reads = 0
while reads < 50000 and time.monotonic() < deadline:
    got = os.pread(fd, 1 << 20, 0)
    if got not in seen:
        sys.exit("saw %r" % got[:80])
    seen[got] += 1
    reads += 1
os.close(fd)
print("%d reads: %d short, %d long" % (reads, seen[a], seen[b]))
if reads < 10000:
    sys.exit("only %d reads in 15 s" % reads)
if not seen[a] or not seen[b]:
    sys.exit("the writer never got in: %r" % list(seen.values()))
PY
status=$?
kill "$writer"
wait "$writer" 2>/dev/null
((status == 0)) || fail "the reader (status $status): $(cat "$TEST_TMP/reads")"

