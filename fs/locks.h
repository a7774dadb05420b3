/* locks.h - flock(2) and fcntl locks on every rwfs file, granted by the
 * engine's tickets (state.h) instead of the kernel.
 *
 * A lock that must wait parks its request here, holding no worker thread;
 * the engine's ticket observer answers it when the ticket is granted.  A
 * signal ends the wait: the ticket is cancelled (or, if its grant came
 * first, unlocked), so none is left behind, and the caller gets EINTR.
 * The kernel's lock owner is the owner; a file's key is its inode number.
 */
#ifndef RWFS_LOCKS_H
#define RWFS_LOCKS_H

#include "fs.h"

struct locks;

/* A new empty table of parked lock requests, or NULL. */
struct locks *locks_new(void);

/* Answers every parked request (EINTR) and frees the table; NULL is a
 * no-op.  For shutdown. */
void locks_free(struct locks *l);

/* The engine's ticket observer (state_observe_tickets), arg the fs:
 * answers the parked request whose ticket left the queue. */
void locks_ticket_left(void *arg, const struct state_ticket_event *e);

/* The FUSE operations. */
void locks_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op);
void locks_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct flock *lock);
void locks_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct flock *lock, int sleep);

/* A close of the file by req: the POSIX locks of fi's owner (flush: every
 * close) or its flock (release, when the kernel says the file held one)
 * go.  Returns 0 or -errno. */
int locks_close(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, bool posix);

#endif
