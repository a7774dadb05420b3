/* wait.c - parked FUSE requests.  See wait.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "wait.h"

struct waiter {
	struct waiter *next;
	fuse_req_t req;
	void *arg;
	size_t size;
};

struct poller {
	struct poller *next;
	void *handle;
	struct fuse_pollhandle *ph;
};

struct waitq {
	pthread_mutex_t lock;
	waitq_try_fn try;
	waitq_end_fn end;
	struct waiter *head;   /* under lock: oldest first */
	struct waiter **tail;  /* under lock */
	unsigned waiting;      /* under lock */
	struct poller *pollers; /* under lock */
};

struct waitq *waitq_new(waitq_try_fn try, waitq_end_fn end)
{
	struct waitq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	if (pthread_mutex_init(&q->lock, NULL)) {
		free(q);
		return NULL;
	}
	q->try = try;
	q->end = end;
	q->tail = &q->head;
	return q;
}

void waitq_end_all(struct waitq *q)
{
	pthread_mutex_lock(&q->lock);
	while (q->head) {
		struct waiter *w = q->head;

		q->head = w->next;
		q->end(w->req, w->arg, 0);
		free(w);
	}
	q->tail = &q->head;
	q->waiting = 0;
	pthread_mutex_unlock(&q->lock);
}

void waitq_free(struct waitq *q)
{
	if (!q)
		return;
	waitq_end_all(q);
	while (q->pollers) {
		struct poller *p = q->pollers;

		q->pollers = p->next;
		fuse_pollhandle_destroy(p->ph);
		free(p);
	}
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* Unlinks *link from the list; the caller frees it. */
static void unlink_waiter(struct waitq *q, struct waiter **link)
{
	struct waiter *w = *link;

	*link = w->next;
	if (q->tail == &w->next)
		q->tail = link;
	q->waiting--;
}

/* libfuse calls this when the kernel interrupts req, under its own lock
 * for req, and possibly before req was parked (then nothing is found and
 * waitq_park sees fuse_req_interrupted). */
static void on_interrupt(fuse_req_t req, void *data)
{
	struct waitq *q = data;
	struct waiter **link;

	pthread_mutex_lock(&q->lock);
	for (link = &q->head; *link; link = &(*link)->next) {
		if ((*link)->req == req) {
			struct waiter *w = *link;

			unlink_waiter(q, link);
			q->end(req, w->arg, EINTR);
			free(w);
			break;
		}
	}
	pthread_mutex_unlock(&q->lock);
}

void waitq_park(struct waitq *q, fuse_req_t req, void *arg, size_t size)
{
	struct waiter *w;

	/* Most requests are answered at once: then without a waiter to
	 * allocate or an interrupt hook to set (five mutexes of libfuse's). */
	pthread_mutex_lock(&q->lock);
	if (!q->head && q->try(req, arg, size)) {
		pthread_mutex_unlock(&q->lock);
		return;
	}
	pthread_mutex_unlock(&q->lock);
	w = malloc(sizeof(*w));
	if (!w) {
		q->end(req, arg, ENOMEM);
		return;
	}
	*w = (struct waiter){ NULL, req, arg, size };
	fuse_req_interrupt_func(req, on_interrupt, q);

	pthread_mutex_lock(&q->lock);
	if (fuse_req_interrupted(req)) {
		q->end(req, arg, EINTR);
		free(w);
	} else if (!q->head && q->try(req, arg, size)) {
		free(w);
	} else {
		*q->tail = w;
		q->tail = &w->next;
		q->waiting++;
	}
	pthread_mutex_unlock(&q->lock);
}

static void notify_pollers(struct waitq *q)
{
	while (q->pollers) {
		struct poller *p = q->pollers;

		q->pollers = p->next;
		fuse_lowlevel_notify_poll(p->ph);
		fuse_pollhandle_destroy(p->ph);
		free(p);
	}
}

unsigned waitq_wake(struct waitq *q)
{
	unsigned answered = 0;

	pthread_mutex_lock(&q->lock);
	while (q->head && q->try(q->head->req, q->head->arg, q->head->size)) {
		struct waiter *w = q->head;

		unlink_waiter(q, &q->head);
		free(w);
		answered++;
	}
	notify_pollers(q);
	pthread_mutex_unlock(&q->lock);
	return answered;
}

/* Removes handle's poller, if any; returns its poll handle. */
static struct fuse_pollhandle *take_poller(struct waitq *q, void *handle)
{
	for (struct poller **link = &q->pollers; *link; link = &(*link)->next) {
		struct poller *p = *link;

		if (p->handle == handle) {
			struct fuse_pollhandle *ph = p->ph;

			*link = p->next;
			free(p);
			return ph;
		}
	}
	return NULL;
}

void waitq_poll(struct waitq *q, void *handle, struct fuse_pollhandle *ph)
{
	struct poller *p = NULL;
	struct fuse_pollhandle *old;

	if (ph) {
		p = malloc(sizeof(*p));
		if (!p) {
			/* Without a poller the caller's poll still works, it
			 * only wakes on its own timeout. */
			fuse_pollhandle_destroy(ph);
			ph = NULL;
		}
	}
	pthread_mutex_lock(&q->lock);
	old = take_poller(q, handle);
	if (p) {
		*p = (struct poller){ q->pollers, handle, ph };
		q->pollers = p;
	}
	pthread_mutex_unlock(&q->lock);
	if (old)
		fuse_pollhandle_destroy(old);
}

void waitq_forget(struct waitq *q, void *handle)
{
	waitq_poll(q, handle, NULL);
}

unsigned waitq_waiting(struct waitq *q)
{
	unsigned n;

	pthread_mutex_lock(&q->lock);
	n = q->waiting;
	pthread_mutex_unlock(&q->lock);
	return n;
}
