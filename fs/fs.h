/* fs.h - what the files of the FUSE layer share (ops.c, node.c, the
 * classes, logline.c): the session's userdata, open-file handles, the
 * event lines.  The engine never sees any of it.
 */
#ifndef RWFS_FS_H
#define RWFS_FS_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "engine/state.h"
#include "node.h"
#include "ops.h"
#include "wait.h"

#define ATTR_TIMEOUT 0.0
#define RWFS_VERSION "0.1.0" /* --version and mnt/stats */

struct locks;

struct rwfs {
	struct state *st;
	struct node_table *nodes;
	struct waitq *events; /* parked readers of mnt/events */
	struct locks *locks;  /* parked lock requests (locks.c) */
	struct timespec mounted;
	pthread_mutex_t handles_lock;
	struct handle *handles; /* under handles_lock: every open file */
};

/* An open file.  The kernel sends no release for files still open when the
 * session ends, so every handle is also on the fs's list, to be freed at
 * shutdown. */
struct handle {
	struct handle *prev, *next; /* under fs->handles_lock */
	struct node *node;      /* held (node_hold) while the handle lives */
	int flags;              /* the open's */
	pthread_mutex_t lock;
	char *text;             /* under lock: snapshot, or the ctl reply */
	size_t len;             /* under lock */
	size_t cap;             /* under lock */
	size_t cursor;          /* under lock: next reply byte of mnt/ctl */
	struct reply *batch;    /* under lock: mnt/ctl's last batch, printed when read */
	char *login;            /* under lock: a shop login to run when read */
	size_t login_len;       /* under lock */
	struct evlog_cursor events_cursor; /* under the event log's lock */
	bool pinned;            /* files/: the node is pinned for the handle */
	bool truncate_pending;  /* under lock: files/: an O_TRUNC not yet applied */
};

static inline struct rwfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The client's pid, for the record its operation becomes. */
static inline uint32_t client_pid(fuse_req_t req)
{
	return (uint32_t)fuse_req_ctx(req)->pid;
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

/* The outcome of ret for an event line: "ok" for 0, else "error: MESSAGE"
 * of -ret (in a buffer of the calling thread's, until its next call). */
const char *log_outcome_text(int ret);

/* Appends "pid N (comm) WHAT PATH "TEXT" -> OUTCOME" for the client of
 * req, TEXT quoted and cut, PATH node's (left out with its space when node
 * is NULL). */
void log_outcome(struct rwfs *fs, fuse_req_t req, const char *what, const struct node *node,
		 const char *text, size_t len, const char *outcome);

/* Appends "pid N (comm) WHAT PATH -> RESULT", RESULT the len bytes of
 * result as they are. */
void log_result(struct rwfs *fs, fuse_req_t req, const char *what, const struct node *node,
		const char *result, size_t len);

#endif
