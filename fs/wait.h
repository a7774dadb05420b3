/* wait.h - parked FUSE requests: answered later, from another thread.
 *
 * A read that has nothing to return yet (mnt/events, later the queues) must
 * not sleep in its worker thread: libfuse has only a few, and a handful of
 * blocked readers would stop the writers that would wake them.  Instead the
 * handler parks its request here and returns; whoever makes the file ready
 * calls waitq_wake, which retries the parked requests in arrival order.  A
 * fuse_req_t stays valid until it is answered, also after its handler
 * returned.
 *
 * Interrupts: a caller that gets a signal makes the kernel send an
 * interrupt; the parked request is then answered EINTR and takes nothing.
 *
 * Lock order: waitq lock, then whatever try takes (the engine's locks),
 * then libfuse's own locks.  Interrupt callbacks run under libfuse's
 * request lock and take the waitq lock; the waitq lock is therefore never
 * held while registering an interrupt callback.
 */
#ifndef RWFS_WAIT_H
#define RWFS_WAIT_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stdbool.h>

struct waitq;

/* Tries to answer req (with what arg says, and size, the read size).
 * Returns true when it replied (data, EOF or an error), false when the
 * request must keep waiting.  Called with the waitq lock held. */
typedef bool (*waitq_try_fn)(fuse_req_t req, void *arg, size_t size);

/* Ends a parked request that will not be tried again, and frees what arg
 * owns: err is 0 when the file has nothing more to give (it was removed,
 * or the daemon stops), else the errno to answer (EINTR when the caller
 * was interrupted, ENOMEM when it could not be parked). */
typedef void (*waitq_end_fn)(fuse_req_t req, void *arg, int err);

/* A new empty queue whose requests are answered by try and end.  NULL
 * when out of memory. */
struct waitq *waitq_new(waitq_try_fn try, waitq_end_fn end);

/* Ends every parked request (err 0) and frees the queue; NULL is a no-op.
 * For shutdown, when no handler runs any more. */
void waitq_free(struct waitq *q);

/* Ends every parked request with err 0: the file is gone. */
void waitq_end_all(struct waitq *q);

/* Parks req.  When nobody waits before it, try gets a first go (this
 * closes the gap between the caller's own look and the parking); when
 * others wait, it goes behind them, so requests are served in arrival
 * order.  Never blocks. */
void waitq_park(struct waitq *q, fuse_req_t req, void *arg, size_t size);

/* Retries the parked requests in arrival order, stopping at the first that
 * must keep waiting, and tells every poller registered with waitq_poll to
 * look again.  Returns how many were answered. */
unsigned waitq_wake(struct waitq *q);

/* Keeps ph (may be NULL) as handle's poll handle until the next wake,
 * replacing and destroying an earlier one. */
void waitq_poll(struct waitq *q, void *handle, struct fuse_pollhandle *ph);

/* Drops what the queue keeps for handle (its poll handle): for release. */
void waitq_forget(struct waitq *q, void *handle);

/* The number of parked requests. */
unsigned waitq_waiting(struct waitq *q);

#endif
