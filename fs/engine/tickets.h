/* tickets.h - the ticket table: the readers-writer locks per file that the
 * daemon grants in place of the kernel, for flock(2) and for fcntl's POSIX
 * byte-range locks.
 *
 * The table is deterministic: no clock, no random source, no thread, no
 * lock of its own.  Every change is a call made while applying a record,
 * in log order, with the record's time, so two tables given the same calls
 * end identical.  The caller serialises every change and may look (the
 * const functions) concurrently with other looks only.
 *
 * Who conflicts.  A lock or request is on one file (an opaque key of the
 * caller) and of one kind; the two kinds never conflict, as in Linux.  Its
 * owner is the pair (session, owner): the same owner number in two
 * sessions (two daemon runs, two hosts) is two owners.  Two of them
 * conflict when they are of the same file and kind, of different owners,
 * their ranges overlap and at least one is exclusive.  An owner never
 * conflicts with itself.
 *
 * Fairness, per file, like a ticket queue.  A request is granted at once
 * when no granted lock conflicts with it and no request queued before it
 * conflicts with it; otherwise it waits in the file's queue (or fails, if
 * it may not wait).  So consecutive shared requests are granted together,
 * an exclusive request waits for every holder ahead of it, and a waiting
 * exclusive request holds back every later request it conflicts with.
 * After every change the queue is scanned in order and each request that
 * can be granted by the same rule is (requests on disjoint ranges pass each
 * other), until nothing more can be.  One exception: an owner that already
 * holds a lock of that kind on the file is held back only by granted locks,
 * not by the queue.  The requests queued may be waiting for that very
 * owner, so making its downgrade, upgrade or split wait behind them would
 * deadlock; and it cannot starve them beyond what its holding does anyway.
 *
 * An owner's locks (POSIX).  A granted lock replaces the owner's own locks
 * of the kind over its range (upgrade, downgrade), and merges with the
 * owner's locks of the same mode that it overlaps or touches; an unlock of
 * a middle part leaves two pieces.  An upgrade that must wait keeps the
 * owner's lock while it waits, as in Linux.  So two shared holders who
 * both wait to upgrade deadlock: the table detects no deadlock (Linux's
 * EDEADLK is a partial check; flock has none), the waits end when a holder
 * is interrupted, closes or goes away.
 *
 * flock.  The range is always the whole file, the owner is the open file.
 * A second flock by the same owner converts its lock.  A conversion that
 * must wait drops the old lock first, as Linux does: otherwise two shared
 * holders converting to exclusive would wait for each other for ever.  A
 * conversion that may not wait and cannot be granted fails with the old
 * lock kept (Linux drops it even then; keeping it is what the caller of a
 * failed call expects).
 *
 * Leaving the queue.  Every request that leaves the queue, granted or
 * removed (cancel, release_owner, release_session), is told once to the
 * observer (tickets_observe), so the caller can answer its waiter.
 *
 * Bounds.  A table holds at most TICKETS_MAX locks, a file at most
 * TICKETS_FILE_MAX, where a waiting request counts as
 * TICKETS_REQUEST_WEIGHT locks: what its grant can leave at most (the new
 * lock and the two pieces of one it splits).  So a grant from the queue
 * never needs room or memory that is not there, and releases never fail.
 * A scan of a file costs its queue times its locks and queue, which
 * TICKETS_FILE_MAX bounds.
 */
#ifndef RWFS_TICKETS_H
#define RWFS_TICKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TICKETS_MAX 65536
#define TICKETS_FILE_MAX 1024
#define TICKETS_REQUEST_WEIGHT 3
#define TICKETS_TO_END UINT64_MAX  /* an end: up to the end of the file, however long */

enum ticket_kind { TICKET_FLOCK, TICKET_POSIX };
enum ticket_mode { TICKET_SHARED, TICKET_EXCLUSIVE };

/* A request, and also a granted lock (its fields then as the grant left
 * them). */
struct ticket_req {
	uint64_t id;        /* the request's number, given by the caller; a lock keeps its request's */
	uint64_t file;      /* which file: a key of the caller */
	enum ticket_kind kind;
	enum ticket_mode mode;
	uint64_t session;   /* the daemon run that asked */
	uint64_t owner;     /* flock: the open file; POSIX: the lock owner */
	uint32_t pid;       /* the process that asked: what F_GETLK reports */
	uint64_t start;     /* bytes start..end, end included; flock: always 0.. */
	uint64_t end;       /* ..TICKETS_TO_END */
	int64_t time_ns;    /* a request: when it was asked; a lock: when it was granted */
};

struct ticket_stats {
	uint64_t held;             /* granted locks (pieces of a split count apart) */
	uint64_t waiting;          /* queued requests */
	uint64_t files;            /* files with a lock or a request */
	int64_t longest_wait_ns;   /* the longest wait of any grant from the queue so far */
	int64_t oldest_request_ns; /* when the longest waiting request was asked; 0 if none */
};

struct tickets;

/* Told of every request that leaves the queue: granted (and waited_ns,
 * from its asking to its grant, 0 if the clock went back) or removed
 * (granted false, waited_ns 0).  req is valid during the call only.  Called
 * in the middle of a change: it must not call the table. */
typedef void (*tickets_observer_fn)(void *arg, const struct ticket_req *req, bool granted,
				    int64_t waited_ns);

/* An empty table, or NULL when out of memory. */
struct tickets *tickets_new(void);

/* Frees the table and everything in it; NULL is a no-op. */
void tickets_free(struct tickets *t);

/* Sets the one observer; NULL clears it. */
void tickets_observe(struct tickets *t, tickets_observer_fn fn, void *arg);

/* Asks for req (copied; for flock its range is ignored).  When it can be
 * granted now, it is (replacing and merging as above) and returns 0.
 * Otherwise, when wait is true, it joins the file's queue and returns 1;
 * its grant is told to the observer later.  Returns -EAGAIN when it cannot
 * be granted now and wait is false, because a lock conflicts or because
 * an earlier request waits; -EINVAL (a kind or mode out of the enums, a
 * POSIX start > end); -EEXIST (a queued request has req->id); -ENOLCK
 * (the table or the file has no room: for one lock, two if the grant
 * splits one of the owner's, TICKETS_REQUEST_WEIGHT to wait); -ENOMEM.
 * On an error nothing changed.  A flock conversion that waits drops the
 * old lock, which may grant others first. */
int tickets_lock(struct tickets *t, const struct ticket_req *req, bool wait);

/* Unlocks the range of req (flock: the lock) of req's owner, kind and
 * file; its id, mode and pid are not used, its time_ns is the time of the
 * grants it allows.  Unlocking what is not locked is not an error.
 * Returns 0, -EINVAL (as tickets_lock), or when the unlock would split a
 * lock in two: -ENOLCK (no room for one more) or -ENOMEM, nothing
 * changed. */
int tickets_unlock(struct tickets *t, const struct ticket_req *req);

/* The owner closed the file: every lock and queued request of (session,
 * owner) of kind on file goes.  Returns how many locks and requests went. */
size_t tickets_release_owner(struct tickets *t, uint64_t file, enum ticket_kind kind,
			     uint64_t session, uint64_t owner, int64_t time_ns);

/* The wait of the queued request id ended (a signal): it leaves the queue,
 * which may let requests behind it through.  Returns 0, or -ENOENT when no
 * request id is queued (granted already, cancelled, or never asked). */
int tickets_cancel(struct tickets *t, uint64_t id, int64_t time_ns);

/* The session is gone: all its locks and queued requests, of both kinds on
 * every file, go.  Returns how many went. */
size_t tickets_release_session(struct tickets *t, uint64_t session, int64_t time_ns);

/* F_GETLK: true when a granted lock conflicts with req, and a copy of the
 * first such lock in *holder (may be NULL).  Queued requests are not
 * considered, as in Linux, so false does not promise that tickets_lock
 * would grant req at once. */
bool tickets_conflict(const struct tickets *t, const struct ticket_req *req,
		      struct ticket_req *holder);

/* True when (session, owner) has a lock or a queued request of kind on
 * file: whether a close or an unlock has anything to do. */
bool tickets_owner_has(const struct tickets *t, uint64_t file, enum ticket_kind kind,
		       uint64_t session, uint64_t owner);

/* True when a request id waits in a queue. */
bool tickets_is_queued(const struct tickets *t, uint64_t id);

/* Copies the counters into *s. */
void tickets_stats(const struct tickets *t, struct ticket_stats *s);

/* Calls emit with every granted lock (granted true) and every queued
 * request (granted false): file by file in key order, a file's locks
 * before its requests, each in the table's order, so that
 * tickets_restore of each in that order, and tickets_restore_longest_wait
 * of the figure tickets_stats gives, rebuilds an equal table (same dump,
 * same answers, same queue order).  req is valid during the call only.
 * Returns 0 or the first non-zero value emit returned, which stops it. */
int tickets_dump(const struct tickets *t,
		 int (*emit)(void *arg, const struct ticket_req *req, bool granted), void *arg);

/* Adds one lock or request of a dump as it is: a lock is neither merged
 * nor checked against the queue, a request goes to the tail of its queue
 * and nothing is granted.  Returns 0, -EINVAL (as tickets_lock, or a lock
 * that conflicts with a granted lock or overlaps one of its owner's of
 * its kind: not from a dump), -EEXIST (a request whose id is queued),
 * -ENOLCK, -ENOMEM; nothing changed on an error. */
int tickets_restore(struct tickets *t, const struct ticket_req *req, bool granted);

/* Sets the longest wait so far (from a dump's stats). */
void tickets_restore_longest_wait(struct tickets *t, int64_t ns);

#endif
