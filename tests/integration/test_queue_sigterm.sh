#!/usr/bin/env bash
# SIGTERM to the daemon while readers and writers are blocked on queues:
# the blocked processes return promptly (end of file or an error, never
# success for a writer), the daemon exits 0, and after a restart the queues
# hold what was acknowledged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue_lib.sh"

start_blocked_clients
kill -TERM "$DAEMON_PID"
expect_clients_end "the SIGTERM"
