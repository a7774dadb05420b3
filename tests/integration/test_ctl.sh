#!/usr/bin/env bash
# mnt/ctl runs the instruction set; the same open file reads back one
# "ok CANONICAL -> TARGET=VALUE" line per instruction.
. "$(dirname "$0")/lib.sh"

# batch, then the reply expected on the same open file.
cases=(
	$'SET A 40\nADD A 2'   $'ok SET A 40 -> A=40\nok ADD A 2 -> A=42'
	'MOV A B'              'ok MOV A B -> B=42'
	'ADD 27 N'             'ok ADD N 27 -> N=27'
	'SET 97 I'             'ok SET I 97 -> I=97'
	'SUB B 50'             'ok SUB B 50 -> B=-8'
	'MUL B A'              'ok MUL B A -> B=-336'
	'DIV B 5'              'ok DIV B 5 -> B=-67'
	$'SET C -7\nDIV C 2'   $'ok SET C -7 -> C=-7\nok DIV C 2 -> C=-3'
	'ADD C A'              'ok ADD C A -> C=39'
	'SUB C C'              'ok SUB C C -> C=0'
	'WRITE A 100'          'ok WRITE A 100 -> mem/100=42'
	'WRITE 7 101'          'ok WRITE 7 101 -> mem/101=7'
	'READ D 100'           'ok READ D 100 -> D=42'
	'MOV 5 K'              'ok MOV 5 K -> K=5'
	'SUB 2 K'              'ok SUB K 2 -> K=3'
	'MUL 4 K'              'ok MUL K 4 -> K=12'
	'SET J -5'             'ok SET J -5 -> J=-5'
	'ADD J -5'             'ok ADD J -5 -> J=-10'
	$'add A 1\nSet E 5\nmov E F\nwrite E 102'
	                       $'ok ADD A 1 -> A=43\nok SET E 5 -> E=5\nok MOV E F -> F=5\nok WRITE E 102 -> mem/102=5'
	$'# set up G\n\nSET G 1   # one\n\n   \nADD G 2\n# done\n'
	                       $'ok SET G 1 -> G=1\nok ADD G 2 -> G=3'
	$'  ADD   H \t 3  \n'  'ok ADD H 3 -> H=3'
	'SET Z 9223372036854775807'  'ok SET Z 9223372036854775807 -> Z=9223372036854775807'
	'SET Y -9223372036854775808' 'ok SET Y -9223372036854775808 -> Y=-9223372036854775808'
)
for ((i = 0; i < ${#cases[@]}; i += 2)); do
	ctl_call "${cases[i]}"
	assert_eq OK "$CTL_STATUS" "write of $(printf '%q' "${cases[i]}")"
	assert_eq "${cases[i + 1]}" "$CTL_REPLY" "reply to $(printf '%q' "${cases[i]}")"
done

# The shell's way: one echo is one batch.
echo 'ADD A 8' >"$MNT/ctl" || fail "echo 'ADD A 8' > mnt/ctl failed"
printf 'ADD A 1\nADD A 1\n' >"$MNT/ctl" || fail "printf of two lines to mnt/ctl failed"

want=$(cat <<'TABLE'
A 53
B -67
C 0
D 42
E 5
F 5
G 3
H 3
I 97
J -10
K 12
L 0
M 0
N 27
O 0
P 0
Q 0
R 0
S 0
T 0
U 0
V 0
W 0
X 0
Y -9223372036854775808
Z 9223372036854775807
TABLE
)
assert_eq "$want" "$(timeout 10 cat "$MNT/registers")" "mnt/registers after the batches"
assert_bytes "$MNT/mem/100" $'42\n'
assert_bytes "$MNT/mem/101" $'7\n'
assert_bytes "$MNT/mem/102" $'5\n'
assert_bytes "$MNT/mem/103" $'0\n'

# ctl is a stream as big as the largest batch: no offset to seek to, and a
# size every write ends within, so the kernel lets writers run in parallel.
assert_eq 65536 "$(stat -c %s "$MNT/ctl")" "st_size of ctl"
"$PYTHON" - "$MNT/ctl" <<'PY' || fail "ctl took an lseek or a pwrite"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for what in (lambda: os.lseek(fd, 10, os.SEEK_SET), lambda: os.pwrite(fd, b"SET A 1\n", 0)):
    try:
        what()
        sys.exit(1)
    except OSError as e:
        if e.errno != errno.ESPIPE:
            raise
PY
# Four writers at once, each batch whole: A and B move together.
echo "SET A 0
SET B 0" >"$MNT/ctl"
for w in 1 2 3 4; do
	"$PYTHON" - "$MNT/ctl" <<'PY' &
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for _ in range(500):
    os.write(fd, b"ADD A 1\nADD B 1\nSUB A 1\nADD A 1\n")
PY
done
wait
assert_bytes "$MNT/A" $'2000\n'
assert_bytes "$MNT/B" $'2000\n'
