/* log.h - the ordered, durable log that every change of the state goes
 * through.
 *
 * The engine turns each operation into one encoded record (record.h) and
 * appends it here; the log gives it a position (growing: 1, 2, 3 in a file,
 * never reused, across compactions too) and hands it back, in position order, to the one
 * deliver function, which applies it.  Replay at start-up is the same
 * deliver.  The log never looks inside a record: to it a record is bytes.
 *
 * Implementations: file.c (a journal and a snapshot in a state directory,
 * one host), memory.c (nothing kept) and etcd.c (an etcd cluster shared by
 * several hosts).  Nothing here assumes one host: deliver may run in a
 * thread of the log's own, positions need only grow, and an append may
 * only queue its record (log_await then waits for its delivery).
 *
 * A snapshot is an opaque blob from the engine (the whole state as of a
 * position); the log keeps the latest one and replays it first.
 *
 * Locking: the log serialises its own appends; deliver is called from
 * inside log_append (file.c: in the appending thread, before it returns)
 * or from a thread of the log's own (a replicated log), one record at a
 * time, never two at once.  deliver must not call back into the log.
 */
#ifndef RWFS_LOG_H
#define RWFS_LOG_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_MAX_RECORD (16u << 20) /* longer appends: -EFBIG */

struct log;

/* Applies the record at position; called in position order.  Returns 0 or
 * -errno, which stops a replay (-EBADMSG: the record cannot be decoded). */
typedef int (*log_deliver_fn)(void *arg, uint64_t position, const void *rec, size_t len);

/* Loads a snapshot: the state as of position, replacing whatever deliver
 * built so far.  Returns 0 or -errno (-EBADMSG: damaged), which stops a
 * replay. */
typedef int (*log_load_fn)(void *arg, uint64_t position, const void *blob, size_t len);

/* Writes the whole state: called by log_compact with the log's appends
 * held off, so the blob is exactly the state as of the last position
 * delivered.  Returns 0 and a malloc'd blob the log frees, or -errno. */
typedef int (*log_save_fn)(void *arg, void **blob, size_t *len);

struct log_ops {
	int (*follow)(struct log *log, log_load_fn load, log_deliver_fn deliver, void *arg);
	int (*append)(struct log *log, const void *rec, size_t len, uint64_t *ticket);
	int (*await)(struct log *log, uint64_t ticket, uint64_t *position); /* NULL: ticket is it */
	int (*catch_up)(struct log *log);                                /* NULL: always caught up */
	int (*sync)(struct log *log, uint64_t position);
	bool (*wants_compaction)(struct log *log);
	int (*compact)(struct log *log, log_save_fn save, void *arg);
	int (*format_stats)(struct log *log, char *buf, size_t size);
	int (*rejoin)(struct log *log, const void *farewell, size_t len); /* shared logs */
	void (*close)(struct log *log);
	bool shared; /* other processes append too: their sessions are alive */
};

/* Gives a record its last bytes as it enters the log (the engine numbers
 * its proposals so): called once per record by log_append, under the
 * log's own lock, in the order records enter the log, on the bytes the log
 * keeps (the caller's buffer, which is then written to, or the log's copy
 * of it), before anyone else can see them.  It may take the engine's
 * pending lock, and nothing else of the engine's. */
typedef void (*log_stamp_fn)(void *arg, void *rec, size_t len);

/* Every implementation's struct begins with this (zeroed: no stamp). */
struct log {
	const struct log_ops *ops;
	log_stamp_fn stamp;
	void *stamp_arg;
};

/* Sets the stamp every later append calls. */
static inline void log_set_stamp(struct log *log, log_stamp_fn stamp, void *arg)
{
	log->stamp = stamp;
	log->stamp_arg = arg;
}

/* For the implementations: calls the stamp, if any, on rec. */
static inline void log_stamp(struct log *log, const void *rec, size_t len)
{
	if (log->stamp)
		log->stamp(log->stamp_arg, (void *)rec, len);
}

/* Replays the snapshot (through load) and every record after it (through
 * deliver), then keeps load and deliver for what comes later: from now on
 * every appended record is delivered.  Called once, before any append.
 * Returns 0, -EBADMSG (damage the log found: its message says where) or
 * the first error of load or deliver. */
static inline int log_follow(struct log *log, log_load_fn load, log_deliver_fn deliver,
			     void *arg)
{
	return log->ops->follow(log, load, deliver, arg);
}

/* Appends one record, in the order of the calls (the stamp's order), and
 * returns a *ticket for log_await.  The file and memory logs do the whole append here: the
 * record has reached the kernel (it survives a kill -9 of the daemon),
 * deliver has run in this thread, and the ticket is its position.  The
 * etcd log only queues the record.  On failure (-ENOSPC, -EIO, -EFBIG;
 * -EINVAL for an empty record or before log_follow) the record is not in
 * the log and was not delivered.  Should deliver itself fail, its error is
 * returned, but the record stays in the log.  May block.  Call with no
 * lock of the engine held. */
static inline int log_append(struct log *log, const void *rec, size_t len, uint64_t *ticket)
{
	return log->ops->append(log, rec, len, ticket);
}

/* Waits until the record of ticket is delivered (deliver has returned,
 * in whichever thread) and gives its *position.  Returns 0, or -ETIMEDOUT
 * or -EIO when the log gave up on it: then it was not delivered yet, but
 * it may still be later (its outcome is unknown).  Each ticket is awaited
 * once.  Call with no lock of the engine held. */
static inline int log_await(struct log *log, uint64_t ticket, uint64_t *position)
{
	if (!log->ops->await) {
		*position = ticket;
		return 0;
	}
	return log->ops->await(log, ticket, position);
}

/* True when log_append delivers its record itself, in the calling thread,
 * before it returns (the logs of one process): its ticket is then its
 * position, and log_await has nothing to wait for. */
static inline bool log_delivers_in_append(struct log *log)
{
	return !log->ops->await;
}

/* Returns once every record the log held when the call began has been
 * delivered here: a read that follows sees every change acknowledged
 * anywhere before it began.  0, or -ETIMEDOUT / -EIO when the log cannot
 * say.  At once for the logs of one process. */
static inline int log_catch_up(struct log *log)
{
	return log->ops->catch_up ? log->ops->catch_up(log) : 0;
}

/* True when other processes append to the log too (other hosts): the
 * sessions in it other than ours are alive, and end by the log's say. */
static inline bool log_is_shared(struct log *log)
{
	return log->ops->shared;
}

/* A shared log that ended this process's session (etcd: its lease ran
 * out while the host was cut off or stalled) takes it back as a new one,
 * whose end is the record farewell (copied): 0, -ENOTSUP for the logs of
 * one process, or -ETIMEDOUT / -EIO when the cluster cannot be reached. */
static inline int log_rejoin(struct log *log, const void *farewell, size_t len)
{
	return log->ops->rejoin ? log->ops->rejoin(log, farewell, len) : -ENOTSUP;
}

/* Returns once the record at position is as durable as the sync policy
 * promises (file log, --sync=always: on disk; concurrent callers share one
 * fdatasync).  0, or -EIO (nothing later can be promised: every later
 * append fails too).  May block. */
static inline int log_sync(struct log *log, uint64_t position)
{
	return log->ops->sync(log, position);
}

/* True when the log would like a snapshot (the journal grew past its bound). */
static inline bool log_wants_compaction(struct log *log)
{
	return log->ops->wants_compaction(log);
}

/* Replaces the snapshot with the blob save makes and drops the records it
 * includes.  Appends wait meanwhile.  Returns 0 or -errno; on failure the
 * log stays as valid as before, and appends still work when the disk has
 * room again. */
static inline int log_compact(struct log *log, log_save_fn save, void *arg)
{
	return log->ops->compact(log, save, arg);
}

/* Appends the log's `name value` lines of mnt/stats to buf, like snprintf:
 * returns the length it needed. */
static inline int log_format_stats(struct log *log, char *buf, size_t size)
{
	return log->ops->format_stats(log, buf, size);
}

/* Syncs what was appended, releases the log's resources; NULL is a no-op. */
static inline void log_close(struct log *log)
{
	if (log)
		log->ops->close(log);
}

#endif
