#!/usr/bin/env bash
# The course's scenario 2: 7 producers of 2000 Reading records each and 3
# consumers, each with its own record file, on one queue of capacity 100;
# tools/records then finds 14000 good records with every (producer, seq)
# exactly once.  Then the record format itself (checked with Python's
# zlib), and records' damage detection: a flipped byte, a torn end, a file
# that is not a record file.
. "$(dirname "$0")/lib.sh"

# The tools under test: $TOOLS (the Makefile points it at a sanitizer
# build), else the repository's tools/.
tools=${TOOLS:-$ROOT/tools}
[[ "$tools" == /* ]] || tools=$ROOT/$tools
producer=$tools/producer
consumer=$tools/consumer
records=$tools/records
# Our files in a directory of their own: run.sh reads $TEST_TMP/*.err as
# the daemons' stderr.
mkdir "$TEST_TMP/t" && cd "$TEST_TMP/t" || fail "cannot make $TEST_TMP/t"

touch "$MNT/queues/readings"
for c in 1 2 3; do
	timeout 40 "$consumer" --mount "$MNT" --id "$c" --timeout 3 --records "c$c.rec" readings 2>"c$c.err" &
	consumers[c]=$!
done
for p in 1 2 3 4 5 6 7; do
	timeout 40 "$producer" --mount "$MNT" --id "$p" --records --count 2000 readings 2>"p$p.err" &
	producers[p]=$!
done
for p in 1 2 3 4 5 6 7; do
	wait "${producers[p]}" || fail "producer $p failed: $(cat "p$p.err")"
done
for c in 1 2 3; do
	wait "${consumers[c]}" || fail "consumer $c failed: $(cat "c$c.err")"
done

timeout 20 "$records" c1.rec c2.rec c3.rec >all.txt 2>summary.txt ||
	fail "records failed: $(cat summary.txt)"
summary=$(cat summary.txt)
assert_contains "$summary" "total: 14000 records read, 0 damaged" "records summary"
for c in 1 2 3; do
	assert_match "c$c.rec: [0-9]+ records read, 0 damaged" "$summary" "summary of c$c.rec"
done
assert_eq 14000 "$(wc -l <all.txt)" "lines printed by records"
re='^reading producer=[1-7] sensor=[0-9]+ seq=[0-9]+ time=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z value=-?[0-9]+\.[0-9]{2}$'
bad=$(grep -Evc "$re" all.txt)
assert_eq 0 "$bad" "records not in the Reading format (e.g. $(grep -Ev "$re" all.txt | head -1))"
dups=$(awk '{ print $2, $4 }' all.txt | sort | uniq -d | head -3)
assert_eq "" "$dups" "(producer, seq) pairs seen twice"
assert_eq 14000 "$(awk '{ print $2, $4 }' all.txt | sort -u | wc -l)" "distinct (producer, seq) pairs"
out=$(awk '{ split($4, s, "="); if (s[2] < 1 || s[2] > 2000) print }' all.txt | head -1)
assert_eq "" "$out" "a seq outside 1..2000"
timeout 10 "$records" --quiet c1.rec >quiet.out 2>/dev/null || fail "records --quiet failed"
[[ -s quiet.out ]] && fail "records --quiet printed records"

# The format, read by an independent decoder.
"$PYTHON" - c1.rec c2.rec c3.rec <<'EOF' || fail "the record files do not follow the format"
import struct, sys, zlib
total = 0
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    assert data[:8] == b"rwfsrec1", (path, data[:8])
    off = 8
    while off < len(data):
        length, crc = struct.unpack_from("<II", data, off)
        payload = data[off + 8:off + 8 + length]
        assert len(payload) == length and zlib.crc32(payload) == crc, (path, off)
        assert payload.startswith(b"reading ") and not payload.endswith(b"\n"), payload
        off += 8 + length
        total += 1
assert total == 14000, total
EOF

# Damage.  A byte flipped in the payload of the 11th record of c1.rec:
# 10 records read, 1 damaged at that record's offset; reading stops there.
offset=$("$PYTHON" - c1.rec <<'EOF'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
off = 8
for _ in range(10):
    off += 8 + struct.unpack_from("<I", data, off)[0]
data[off + 8 + 5] ^= 0x20
open("flipped.rec", "wb").write(data)
print(off)
EOF
) || fail "cannot make flipped.rec"
out=$(timeout 10 "$records" flipped.rec 2>flipped.err)
assert_eq 1 "$?" "exit status of records on a flipped byte"
assert_eq 10 "$(wc -l <<<"$out")" "records printed before the damage"
err=$(cat flipped.err)
assert_contains "$err" "damaged record at offset $offset: checksum mismatch" "records on a flipped byte"
assert_contains "$err" "flipped.rec: 10 records read, 1 damaged" "summary on a flipped byte"

# A torn final record: all but the last are read, the last is damaged.
n=$(grep -c . <(timeout 10 "$records" c2.rec 2>/dev/null))
head -c -3 c2.rec >torn.rec
timeout 10 "$records" --quiet torn.rec 2>torn.err
assert_eq 1 "$?" "exit status of records on a torn file"
assert_contains "$(cat torn.err)" "torn record" "records on a torn file"
assert_contains "$(cat torn.err)" "torn.rec: $((n - 1)) records read, 1 damaged" "summary of a torn file"

# Several files: the good one still counts; the total says what happened.
echo "not records" >text.rec
: >empty.rec
timeout 10 "$records" --quiet c3.rec flipped.rec text.rec empty.rec missing.rec 2>many.err
assert_eq 1 "$?" "exit status of records on good and bad files"
err=$(cat many.err)
assert_contains "$err" "'text.rec' is not a record file" "records on a text file"
assert_contains "$err" "cannot open 'missing.rec': No such file or directory" "records on a missing file"
assert_contains "$err" "empty.rec: 0 records read, 0 damaged" "records on an empty file"
n3=$(grep -c . <(timeout 10 "$records" c3.rec 2>/dev/null))
assert_contains "$err" "total: $((n3 + 10)) records read, 1 damaged, 2 files unreadable" "total"
timeout 10 "$records" empty.rec c3.rec 2>/dev/null >/dev/null || fail "records on good files failed"

# A consumer appends to an existing record file and refuses any other file;
# two consumers sharing one new file write its magic once.
timeout 10 "$producer" --mount "$MNT" --count 4 more || fail "producer failed"
timeout 10 "$consumer" --mount "$MNT" --count 2 --records c3.rec more || fail "consumer appending failed"
assert_eq $((n3 + 2)) "$(timeout 10 "$records" c3.rec 2>/dev/null | wc -l)" "records after appending"
err=$(timeout 10 "$consumer" --mount "$MNT" --count 1 --records text.rec more 2>&1)
assert_eq 1 "$?" "exit status of consumer --records on a text file"
assert_contains "$err" "'text.rec' is not a record file" "consumer --records on a text file"
assert_eq 2 "$(stat_value queue.more.depth)" "items left after the refusal"
timeout 10 "$producer" --mount "$MNT" --count 100 shared || fail "producer failed"
timeout 10 "$consumer" --mount "$MNT" --timeout 1 --records shared.rec shared 2>/dev/null &
a=$!
timeout 10 "$consumer" --mount "$MNT" --timeout 1 --records shared.rec shared 2>/dev/null &
b=$!
wait "$a" || fail "first consumer on shared.rec failed"
wait "$b" || fail "second consumer on shared.rec failed"
out=$(timeout 10 "$records" --quiet shared.rec 2>&1) || fail "records on shared.rec: $out"
assert_eq "shared.rec: 100 records read, 0 damaged" "$out" "records of two consumers in one file"
exit 0
