/* fs.h - what the files of the FUSE layer share (ops.c, queuefs.c,
 * logline.c): the session's userdata, open-file handles, the event lines.
 * The engine never sees any of it.
 */
#ifndef RWFS_FS_H
#define RWFS_FS_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "engine/state.h"
#include "nodes.h"
#include "ops.h"
#include "wait.h"

#define ATTR_TIMEOUT 0.0

struct qwait;

struct rwfs {
	struct state *st;
	struct waitq *events; /* parked readers of mnt/events */
	struct timespec mounted;
	pthread_mutex_t handles_lock;
	struct handle *handles; /* under handles_lock: every open file */
	struct qwait *qwaits;   /* under handles_lock: parked readers and writers of queues */
};

/* An open file.  The kernel sends no release for files still open when the
 * session ends, so every handle is also on the fs's list, to be freed at
 * shutdown. */
struct handle {
	struct handle *prev, *next; /* under fs->handles_lock */
	struct node node;
	pthread_mutex_t lock;
	char *text;             /* under lock: snapshot, or the ctl reply */
	size_t len;             /* under lock */
	size_t cap;             /* under lock */
	size_t cursor;          /* under lock: next reply byte of mnt/ctl */
	char *login;            /* under lock: a shop login to run when read */
	size_t login_len;       /* under lock */
	struct evlog_cursor events_cursor; /* under the event log's lock */
};

static inline struct rwfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline struct handle *handle_of(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

/* --- logline.c: event lines naming the client ---------------------------- */

/* True when an event line would be seen: only then is one worth making. */
bool logging(struct rwfs *fs);

/* Appends "pid N (comm) MESSAGE" for the client of req. */
void log_event(struct rwfs *fs, fuse_req_t req, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define QUOTE_MAX 64 /* most bytes of a text a line shows */
#define QUOTED_SIZE (QUOTE_MAX * 4 + 8)

/* Writes text as a C-like quoted string into out (QUOTED_SIZE bytes),
 * cut after QUOTE_MAX bytes; a final newline is left out. */
void log_quote(const char *text, size_t len, char *out, size_t size);

/* Appends "pid N (comm) WHAT "TEXT" -> OUTCOME", TEXT quoted and cut. */
void log_outcome(struct rwfs *fs, fuse_req_t req, const char *what, const char *text,
		 size_t len, const char *outcome);

/* --- queuefs.c: mnt/queues/ ---------------------------------------------- */

/* The entry of queue name in mnt/queues: 0, or -ENOENT. */
int queuefs_lookup(struct rwfs *fs, const char *name, struct fuse_entry_param *e);

/* Fills st for queue node (mode shows the seal, size the bytes waiting):
 * 0 or -ENOENT. */
int queuefs_getattr(struct rwfs *fs, const struct node *node, struct stat *st);

/* Adds the queues' directory entries from index i on; see op_readdir. */
size_t queuefs_readdir(fuse_req_t req, struct rwfs *fs, size_t i, off_t off, char *buf,
		       size_t size);

/* Creates queue name (touch, mkfifo): 0 with the entry in e, or -errno. */
int queuefs_create(fuse_req_t req, const char *name, struct fuse_entry_param *e);

/* Removes queue name, waking its parked readers (EOF) and writers (EPIPE). */
int queuefs_unlink(fuse_req_t req, const char *name);

/* chmod: without write permission the queue is sealed, with it unsealed. */
int queuefs_chmod(fuse_req_t req, const struct node *node, mode_t mode);

/* The read, write and poll of an open queue; each replies itself. */
void queuefs_read(fuse_req_t req, struct handle *h, size_t size, int flags);
void queuefs_write(fuse_req_t req, struct handle *h, const char *buf, size_t size,
		   int flags);
void queuefs_poll(fuse_req_t req, struct handle *h, struct fuse_pollhandle *ph);

/* Drops what the queue side keeps for h, before h is freed. */
void queuefs_forget(struct rwfs *fs, struct handle *h);

/* user.capacity: the only extended attribute, of queues only. */
void queuefs_setxattr(fuse_req_t req, const struct node *node, const char *name,
		      const char *value, size_t size);
void queuefs_getxattr(fuse_req_t req, const struct node *node, const char *name,
		      size_t size);

/* Appends the per-queue lines of mnt/stats to what buf holds (len bytes),
 * like snprintf: returns the total length needed. */
size_t queuefs_format_stats(struct rwfs *fs, char *buf, size_t size, size_t len);

/* Ends every parked queue request and frees the queue side: at shutdown. */
void queuefs_free(struct rwfs *fs);

#endif
