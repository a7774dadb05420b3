/* locks.c - flock and fcntl locks granted by the engine.  See locks.h.
 *
 * Parked requests are a list of their own rather than a waitq (wait.c): a
 * waitq answers in arrival order and stops at the first that must wait,
 * while grants come in the engine's order, and an interrupt here must make
 * a record (the cancel), which must not happen under a lock that the
 * record's observer takes.  So whoever takes a waiter off the list (the
 * observer, the interrupt, the parking thread that finds its ticket already
 * granted) answers it, and makes its records after letting go of the list.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

#include "locks.h"
#include "node.h"

struct waiter {
	struct waiter *next;
	fuse_req_t req;
	uint64_t ticket;
	struct state_ticket t;
	struct node *node; /* for the event log: held by the open file */
};

struct locks {
	pthread_mutex_t lock;
	struct waiter *head; /* under lock */
};

struct locks *locks_new(void)
{
	struct locks *l = calloc(1, sizeof(*l));

	if (l && pthread_mutex_init(&l->lock, NULL)) {
		free(l);
		return NULL;
	}
	return l;
}

void locks_free(struct locks *l)
{
	if (!l)
		return;
	while (l->head) {
		struct waiter *w = l->head;

		l->head = w->next;
		fuse_reply_err(w->req, EINTR);
		free(w);
	}
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* Takes the waiter for req (or, req NULL, for ticket) off the list. */
static struct waiter *take(struct locks *l, fuse_req_t req, uint64_t ticket)
{
	struct waiter *w = NULL;

	pthread_mutex_lock(&l->lock);
	for (struct waiter **link = &l->head; *link; link = &(*link)->next) {
		if (req ? (*link)->req == req : (*link)->ticket == ticket) {
			w = *link;
			*link = w->next;
			break;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return w;
}

/* --- the event log ------------------------------------------------------------ */

/* "lock PATH exclusive 0-99 -> OUTCOME" (an end of -1: to the end), or
 * "flock PATH shared -> OUTCOME"; "unlock" in place of the mode. */
static void log_lock(struct rwfs *fs, fuse_req_t req, const struct node *node,
		     const struct state_ticket *t, const char *outcome, bool unlock)
{
	const char *mode = unlock ? "unlock" : t->exclusive ? "exclusive" : "shared";
	char path[80];

	if (!logging(fs))
		return;
	node_path(node, path, sizeof(path));
	if (t->posix)
		log_event(fs, req, "lock %s %s %llu-%lld -> %s", path, mode,
			  (unsigned long long)t->start,
			  t->end == UINT64_MAX ? -1 : (long long)t->end, outcome);
	else
		log_event(fs, req, "flock %s %s -> %s", path, mode, outcome);
}

static void log_wait_end(struct rwfs *fs, struct waiter *w, bool granted, int64_t waited_ns)
{
	char outcome[64];

	if (!logging(fs))
		return;
	if (granted)
		snprintf(outcome, sizeof(outcome), "granted after %.3f ms", waited_ns / 1e6);
	else
		snprintf(outcome, sizeof(outcome), "ended without a grant");
	log_lock(fs, w->req, w->node, &w->t, outcome, false);
}

/* --- waiting ---------------------------------------------------------------------- */

static void answer(struct rwfs *fs, struct waiter *w, bool granted, int64_t waited_ns)
{
	log_wait_end(fs, w, granted, waited_ns);
	fuse_reply_err(w->req, granted ? 0 : EINTR);
	free(w);
}

void locks_ticket_left(void *arg, const struct state_ticket_event *e)
{
	struct rwfs *fs = arg;
	struct waiter *w;

	if (e->ticket) {
		w = take(fs->locks, NULL, e->ticket);
		if (w)
			answer(fs, w, e->granted, e->waited_ns);
		return;
	}
	/* More left than one change tells: look at every waiter. */
	for (;;) {
		uint64_t ticket = 0;

		pthread_mutex_lock(&fs->locks->lock);
		for (struct waiter *it = fs->locks->head; it && !ticket; it = it->next)
			if (!state_ticket_waiting(fs->st, it->ticket))
				ticket = it->ticket;
		pthread_mutex_unlock(&fs->locks->lock);
		w = ticket ? take(fs->locks, NULL, ticket) : NULL;
		if (!w)
			return;
		answer(fs, w, true, 0);
	}
}

/* Leaves no ticket behind a request that will not wait for it. */
static void give_up(struct rwfs *fs, const struct state_ticket *t, uint64_t ticket)
{
	if (state_ticket_cancel(fs->st, ticket) == -ENOENT)
		state_ticket_unlock(fs->st, t);
}

/* The kernel interrupts a parked lock (a signal, flock -w's alarm): no
 * ticket may stay behind, whether the grant came first or not. */
static void on_interrupt(fuse_req_t req, void *data)
{
	struct rwfs *fs = data;
	struct waiter *w = take(fs->locks, req, 0);

	if (!w)
		return;
	give_up(fs, &w->t, w->ticket);
	log_lock(fs, req, w->node, &w->t, "interrupted", false);
	fuse_reply_err(req, EINTR);
	free(w);
}

static void park(struct rwfs *fs, fuse_req_t req, struct node *node,
		 const struct state_ticket *t, uint64_t ticket)
{
	struct waiter *w = malloc(sizeof(*w));
	bool interrupted;

	if (!w) {
		give_up(fs, t, ticket);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	*w = (struct waiter){ NULL, req, ticket, *t, node };
	log_lock(fs, req, node, t, "waiting", false);
	/* Registered first: an interrupt that comes before the waiter is on
	 * the list is seen below, one that comes after finds it there. */
	fuse_req_interrupt_func(req, on_interrupt, fs);
	pthread_mutex_lock(&fs->locks->lock);
	interrupted = fuse_req_interrupted(req);
	if (!interrupted) {
		w->next = fs->locks->head;
		fs->locks->head = w;
	}
	pthread_mutex_unlock(&fs->locks->lock);
	if (interrupted) {
		give_up(fs, t, ticket);
		fuse_reply_err(req, EINTR);
		free(w);
		return;
	}
	/* The grant may have come before the waiter was on the list. */
	if (!state_ticket_waiting(fs->st, ticket)) {
		w = take(fs->locks, NULL, ticket);
		if (w)
			answer(fs, w, true, 0);
	}
}

/* Asks for t; answers now, or parks. */
static void ask(fuse_req_t req, struct node *node, const struct state_ticket *t, bool wait)
{
	struct rwfs *fs = fs_of(req);
	uint64_t ticket = 0;
	int ret = state_ticket_lock(fs->st, t, wait, &ticket);

	if (ret == 1) {
		park(fs, req, node, t, ticket);
		return;
	}
	log_lock(fs, req, node, t, ret == 0 ? "granted" : ret == -EAGAIN ? "busy" : strerror(-ret),
		 false);
	fuse_reply_err(req, -ret);
}

/* --- the operations ----------------------------------------------------------- */

void locks_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
	struct state_ticket t = { .file = ino, .exclusive = op & LOCK_EX,
				  .owner = fi->lock_owner, .pid = client_pid(req) };
	struct node *node = handle_of(fi)->node;
	int ret;

	if (op & LOCK_UN) {
		ret = state_ticket_unlock(fs_of(req)->st, &t);
		log_lock(fs_of(req), req, node, &t, ret ? strerror(-ret) : "ok", true);
		fuse_reply_err(req, -ret);
		return;
	}
	ask(req, node, &t, !(op & LOCK_NB));
}

/* The range of a struct flock as FUSE gives it: l_len 0 is to the end. */
static struct state_ticket posix_of(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
				    const struct flock *lock)
{
	return (struct state_ticket){
		.file = ino,
		.posix = true,
		.exclusive = lock->l_type == F_WRLCK,
		.owner = fi->lock_owner,
		.start = (uint64_t)lock->l_start,
		.end = lock->l_len ? (uint64_t)(lock->l_start + lock->l_len - 1) : UINT64_MAX,
		.pid = lock->l_pid ? (uint32_t)lock->l_pid : client_pid(req),
	};
}

void locks_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct flock *lock)
{
	struct state_ticket t = posix_of(req, ino, fi, lock), holder;

	if (!state_ticket_conflict(fs_of(req)->st, &t, &holder)) {
		lock->l_type = F_UNLCK;
	} else {
		lock->l_type = holder.exclusive ? F_WRLCK : F_RDLCK;
		lock->l_start = (off_t)holder.start;
		lock->l_len = holder.end == UINT64_MAX ? 0 : (off_t)(holder.end - holder.start + 1);
		lock->l_pid = (pid_t)holder.pid;
	}
	fuse_reply_lock(req, lock);
}

void locks_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct flock *lock, int sleep)
{
	struct state_ticket t = posix_of(req, ino, fi, lock);
	struct node *node = handle_of(fi)->node;
	int ret;

	if (lock->l_type == F_UNLCK) {
		ret = state_ticket_unlock(fs_of(req)->st, &t);
		log_lock(fs_of(req), req, node, &t, ret ? strerror(-ret) : "ok", true);
		fuse_reply_err(req, -ret);
		return;
	}
	ask(req, node, &t, sleep);
}

int locks_close(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, bool posix)
{
	struct state_ticket t = { .file = ino, .posix = posix, .start = 0, .end = UINT64_MAX };
	struct rwfs *fs = fs_of(req);
	int ret = state_ticket_release(fs->st, ino, posix, fi->lock_owner, client_pid(req));

	if (ret)
		log_lock(fs, req, handle_of(fi)->node, &t,
			 ret > 0 ? "released at close" : strerror(-ret), true);
	return ret < 0 ? ret : 0;
}
