#!/usr/bin/env bash
# A lazy unmount (fusermount3 -u -z) while readers and writers are blocked
# on queues: nothing hangs.  The blocked processes return within seconds
# (end of file or an error), the daemon ends its session and exits 0, and
# after a restart the queues hold what was acknowledged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue_lib.sh"

start_blocked_clients
timeout 5 fusermount3 -u -z "$D" || fail "fusermount3 -u -z failed"
expect_clients_end "the lazy unmount"
