/* etcd.h - the log kept in an etcd cluster, shared by every host that
 * mounts the same state.  See log.h for what a log promises.
 *
 * A replicated state machine: every mount keeps the whole state in memory
 * and applies every record in etcd's revision order, from one watch.  The
 * keys, under a prefix (default "rwfs/"):
 *
 *   log             every put is one frame of records (etcd_frame.h): the
 *                   history of this one key is the log
 *   members/ID      one per mount, bound to the mount's lease; its value is
 *                   the record that ends the mount's session, applied at the
 *                   revision of the key's deletion (the lease expired, or
 *                   the mount left)
 *   snap/manifest   "REVISION POSITION CHUNKS LENGTH CRC32 PROPOSER" of the
 *                   latest snapshot (REVISION as 20 digits, so that a byte
 *                   compare orders them)
 *   snap/REV/PROPOSER/K  its chunks, 64 KiB each
 *
 * The position of the k-th record of the frame at revision R is
 * R * 65536 + k; a session's end is R * 65536.
 *
 * A proposal is queued and sent by one sender thread, which takes every
 * proposal queued meanwhile into one frame, one put at a time (group
 * commit: each revision costs etcd a watch event to every mount).  Its
 * outcome comes from its own apply of that revision, never from the put's
 * answer (an answer can be lost while the put commits): a frame retried on
 * another member after a timeout can commit twice, and apply ignores the
 * repeat by the records' (session, sequence).
 */
#ifndef RWFS_LOG_ETCD_H
#define RWFS_LOG_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define LOG_ETCD_DEFAULT_TIMEOUT_MS 10000
#define LOG_ETCD_DEFAULT_LEASE_S 5
#define LOG_ETCD_MAX_RECORD (1u << 20) /* longer appends: -EFBIG */

/* The event log's hook: one line, no newline. */
typedef void (*log_etcd_notice_fn)(void *arg, const char *line);

struct log_etcd_options {
	const char *endpoints;     /* "http://127.0.0.1:2379,http://127.0.0.1:22379" */
	const char *prefix;        /* of every key; NULL: "rwfs/" */
	unsigned timeout_ms;       /* an operation not done by then fails: -ETIMEDOUT */
	unsigned lease_s;          /* a dead mount's session ends this long after (>= 2) */
	bool local_reads;          /* log_catch_up returns at once: reads may be stale */
	unsigned long compact_bytes; /* a snapshot after this many bytes of records */
	const void *farewell;      /* the record that ends this mount's session */
	size_t farewell_len;
	log_etcd_notice_fn notice; /* may be NULL */
	void *notice_arg;
};

/* Asks the cluster at endpoints whether it answers (its status), within
 * timeout_ms.  0, or -errno with msg. */
int log_etcd_probe(const char *endpoints, unsigned timeout_ms, char *msg, size_t size);

/* Connects to the cluster, takes a lease and registers this mount.
 * Nothing is delivered before log_follow.  Returns 0 and *log, or -errno
 * with msg (-EINVAL: a bad option; -ETIMEDOUT: no member answered within
 * the timeout). */
int log_etcd_open(const struct log_etcd_options *o, struct log **log, char *msg, size_t size);

#endif
