/* events.c - mnt/events: each open file starts at "now"; a read with
 * nothing new parks its request (wait.c) instead of holding a worker
 * thread, and the event log's notify hook answers it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>

#include "class.h"

#define EVENTS_CHUNK 16384 /* most bytes of events one read returns */

/* Answers a read of mnt/events if lines wait.  Called by the waitq. */
static bool events_try(fuse_req_t req, void *arg, size_t size)
{
	struct handle *h = arg;
	struct rwfs *fs = fs_of(req);
	char buf[EVENTS_CHUNK];
	size_t n;

	n = evlog_read(state_evlog(fs->st), &h->events_cursor, buf,
		       size < sizeof(buf) ? size : sizeof(buf));
	if (n == 0)
		return false;
	fuse_reply_buf(req, buf, n);
	return true;
}

static void events_end(fuse_req_t req, void *arg, int err)
{
	(void)arg;
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, NULL, 0);
}

static void events_appended(void *arg)
{
	struct rwfs *fs = arg;

	waitq_wake(fs->events);
}

int events_class_init(struct rwfs *fs)
{
	fs->events = waitq_new(events_try, events_end);
	if (!fs->events)
		return -ENOMEM;
	evlog_set_notify(state_evlog(fs->st), events_appended, fs);
	return 0;
}

void events_class_free(struct rwfs *fs)
{
	evlog_set_notify(state_evlog(fs->st), NULL, NULL);
	/* Parked requests only point at their handles; they get EOF. */
	waitq_free(fs->events);
}

static int open_events(struct rwfs *fs, struct handle *h)
{
	evlog_subscribe(state_evlog(fs->st));
	h->events_cursor = evlog_tail(state_evlog(fs->st));
	return 0;
}

static void release(struct rwfs *fs, struct handle *h)
{
	waitq_forget(fs->events, h);
	evlog_unsubscribe(state_evlog(fs->st));
}

static void read_events(fuse_req_t req, struct handle *h, size_t size, off_t off, int flags)
{
	struct rwfs *fs = fs_of(req);

	(void)off;
	if (!(flags & O_NONBLOCK)) {
		waitq_park(fs->events, req, h, size);
		return;
	}
	if (!events_try(req, h, size))
		fuse_reply_err(req, EAGAIN);
}

static void poll_events(fuse_req_t req, struct handle *h, struct fuse_pollhandle *ph)
{
	struct rwfs *fs = fs_of(req);

	/* Registered before looking, so an event in between still wakes. */
	waitq_poll(fs->events, h, ph);
	fuse_reply_poll(req, evlog_ready(state_evlog(fs->st), &h->events_cursor) ? POLLIN : 0);
}

const struct node_class events_class = {
	.ino_base = 31,
	.mode = S_IFREG | 0444,
	.entry_timeout = 86400.0,
	.open_flags = FOPEN_DIRECT_IO | FOPEN_NONSEEKABLE,
	.open = open_events,
	.release = release,
	.read = read_events,
	.poll = poll_events,
};
