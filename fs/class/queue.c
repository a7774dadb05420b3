/* queue.c - one queue, mnt/queues/NAME: a file that behaves like a named
 * pipe that keeps its lines apart.
 *
 * A read takes one item; a write puts its lines in as items.  A read of an
 * empty queue, or a write to a full one, parks its request (wait.c) in one
 * of the queue's two waitqs, readers and writers, kept in the node, instead
 * of holding a worker thread.  Every change of a queue, made here or
 * anywhere else (another handler, the replay, a session that ended), ends
 * in one call from the engine's observer, queue_class_changed, which
 * retries the parked readers and writers until neither moves: an item
 * taken makes room for a writer, an item written feeds a reader.
 *
 * A try (read_try, write_try) runs under its waitq's lock and itself
 * changes the queue; the change must not wake the queue from there (that
 * would take the same lock again).  So a try marks this thread, a change
 * seen during it is only noted, and whoever ran the try (a wake, or the
 * handler that parked or tried) goes round once more.  Wakes of one queue
 * from several threads fold into one loop the same way.
 *
 * No item is lost or delivered twice: a pop only holds the item for its
 * reader; it is acknowledged once the reply is out, and goes back to the
 * head when the reader was interrupted (checked as late as possible, just
 * before the reply) or the reply could not be delivered.  If the daemon
 * dies in between, the next start gives it back (the session ended).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "class.h"

#define CAPACITY_XATTR "user.capacity"
#define BYTES_XATTR "user.bytes"
/* What stat reports as a queue's size: the kernel's largest write
 * request.  The kernel lets writes of one file run in parallel only while
 * they end within the size it has cached (else it takes the inode lock
 * exclusively, and a writer parked on a full queue would make every other
 * writer wait in an unkillable sleep), so the size must cover every write
 * a queue can take.  The bytes waiting are in user.bytes and mnt/stats. */
#define QUEUE_ST_SIZE (1 << 20)

struct queue_waiters {
	struct waitq *readers; /* its pollers are told of every change */
	struct waitq *writers;
	struct waitq *settling; /* O_NONBLOCK readers waiting for held items */
	pthread_mutex_t lock;
	bool waking;           /* under lock: a thread runs the wake loop */
	bool again;            /* under lock: a change came during it */
};

/* A write waiting for room: its bytes, copied, since libfuse reuses the
 * request buffer once the handler returns. */
struct pending_write {
	struct handle *h;
	size_t len;
	char data[];
};

static __thread bool in_try;      /* this thread runs a try, or holds its wakes */
static __thread bool change_seen; /* a change came while it did */

static struct queue_waiters *waiters_of(const struct node *node)
{
	return node->priv;
}

/* After a try that ran outside a wake: the change it made, if any, wakes
 * the others now that no waitq lock is held. */
static void flush_change(struct rwfs *fs, uint64_t id)
{
	if (change_seen) {
		change_seen = false;
		queue_class_changed(fs, id);
	}
}

void queue_class_hold(void)
{
	in_try = true;
}

void queue_class_release(struct rwfs *fs, uint64_t id)
{
	in_try = false;
	flush_change(fs, id);
}

/* --- parked readers and writers ---------------------------------------- */

/* Hands the held item to its reader: acknowledged once the kernel has the
 * reply, back to the head when the reader was interrupted or the reply
 * cannot be delivered. */
static void hand_over(struct rwfs *fs, fuse_req_t req, uint64_t id, uint64_t ticket,
		      char *item, size_t len)
{
	item[len] = '\n';
	if (fuse_req_interrupted(req)) {
		state_queue_unpop(fs->st, id, ticket);
		fuse_reply_err(req, EINTR);
	} else if (fuse_reply_buf(req, item, len + 1) != 0) {
		state_queue_unpop(fs->st, id, ticket);
	} else {
		state_queue_ack(fs->st, id, ticket);
	}
}

static void log_read(struct rwfs *fs, fuse_req_t req, const struct node *node, int ret,
		     const char *item, size_t len)
{
	char result[QUOTED_SIZE];

	if (ret == 0)
		log_quote(item, len, result, sizeof(result));
	else if (ret > 0 || ret == -ENOENT)
		strcpy(result, "end of file");
	else
		strcpy(result, log_outcome_text(ret));
	log_result(fs, req, "read", node, result, strlen(result));
}

/* Hands the head item to a parked or new reader, if there is one. */
static bool take_item(fuse_req_t req, struct handle *h, size_t size)
{
	struct rwfs *fs = fs_of(req);
	uint64_t id = h->node->index;
	char item[QUEUE_MAX_ITEM + 1];
	uint64_t ticket = 0;
	size_t len = 0;
	int ret;

	if (fuse_req_interrupted(req)) {
		fuse_reply_err(req, EINTR);
		return true;
	}
	ret = state_queue_pop(fs->st, id, size, client_pid(req), item, &len, &ticket);
	if (ret == -EAGAIN)
		return false;
	if (logging(fs))
		log_read(fs, req, h->node, ret, item, len);
	if (ret == 1 || ret == -ENOENT)
		fuse_reply_buf(req, NULL, 0);
	else if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		hand_over(fs, req, id, ticket, item, len);
	return true;
}

/* A parked read: an O_NONBLOCK one waits only while awaits_held says so. */
struct pending_read {
	struct handle *h;
	bool nonblock;
};

static bool awaits_held(struct rwfs *fs, uint64_t id);

static bool read_try(fuse_req_t req, void *arg, size_t size)
{
	struct pending_read *p = arg;
	uint64_t id = p->h->node->index;
	bool answered;

	in_try = true;
	answered = take_item(req, p->h, size);
	in_try = false;
	if (!answered && p->nonblock && !awaits_held(fs_of(req), id)) {
		fuse_reply_err(req, EAGAIN);
		answered = true;
	}
	if (answered)
		free(p);
	return answered;
}

static void read_end(fuse_req_t req, void *arg, int err)
{
	free(arg);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, NULL, 0);
}

/* Pushes a parked or new write, if there is room now. */
static bool push_items(fuse_req_t req, struct pending_write *p)
{
	struct rwfs *fs = fs_of(req);
	uint64_t id = p->h->node->index;
	int ret;

	if (fuse_req_interrupted(req)) {
		fuse_reply_err(req, EINTR);
		free(p);
		return true;
	}
	ret = state_queue_push(fs->st, id, p->data, p->len, client_pid(req));
	if (ret == -EAGAIN)
		return false;
	if (ret == -ENOENT)
		ret = -EPIPE;
	if (logging(fs))
		log_outcome(fs, req, "write", p->h->node, p->data, p->len,
			    log_outcome_text(ret));
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, p->len);
	free(p);
	return true;
}

static bool write_try(fuse_req_t req, void *arg, size_t size)
{
	bool answered;

	(void)size;
	in_try = true;
	answered = push_items(req, arg);
	in_try = false;
	return answered;
}

static void write_end(fuse_req_t req, void *arg, int err)
{
	fuse_reply_err(req, err ? err : EPIPE);
	free(arg);
}

/* One round of waking: readers and writers until neither moves; for a
 * removed queue, the end of every waiter.  The readers' wake also tells
 * the pollers. */
static void wake_once(struct rwfs *fs, struct node *node)
{
	struct queue_waiters *qw = waiters_of(node);
	unsigned moved;

	if (state_queue_stats(fs->st, node->index, NULL, NULL) == -ENOENT) {
		waitq_end_all(qw->readers);
		waitq_end_all(qw->writers);
		waitq_end_all(qw->settling);
		waitq_wake(qw->readers);
		return;
	}
	do {
		moved = waitq_wake(qw->readers);
		moved += waitq_wake(qw->settling);
		moved += waitq_wake(qw->writers);
	} while (moved);
	/* Each change noted during the round moved a waiter: covered. */
	change_seen = false;
}

static void wake(struct rwfs *fs, struct node *node)
{
	struct queue_waiters *qw = waiters_of(node);

	pthread_mutex_lock(&qw->lock);
	if (qw->waking) {
		qw->again = true;
		pthread_mutex_unlock(&qw->lock);
		return;
	}
	qw->waking = true;
	do {
		qw->again = false;
		pthread_mutex_unlock(&qw->lock);
		wake_once(fs, node);
		pthread_mutex_lock(&qw->lock);
	} while (qw->again);
	qw->waking = false;
	pthread_mutex_unlock(&qw->lock);
}

void queue_class_changed(void *arg, uint64_t id)
{
	struct rwfs *fs = arg;
	struct node *node;

	if (in_try) {
		change_seen = true;
		return;
	}
	/* No node: no open file, so nobody waits or polls. */
	node = node_find(fs->nodes, &queue_class, id);
	if (node) {
		wake(fs, node);
		node_put(fs->nodes, node);
	}
}

/* --- the node ------------------------------------------------------------ */

static int init(struct node *node)
{
	struct queue_waiters *qw = calloc(1, sizeof(*qw));

	if (!qw)
		return -ENOMEM;
	qw->readers = waitq_new(read_try, read_end);
	qw->writers = waitq_new(write_try, write_end);
	qw->settling = waitq_new(read_try, read_end);
	if (!qw->readers || !qw->writers || !qw->settling || pthread_mutex_init(&qw->lock, NULL)) {
		waitq_free(qw->readers);
		waitq_free(qw->writers);
		waitq_free(qw->settling);
		free(qw);
		return -ENOMEM;
	}
	node->priv = qw;
	return 0;
}

/* Parked requests end (readers EOF, writers EPIPE): at shutdown, since a
 * node with waiters is held by their open files until then. */
static void release_node(struct node *node)
{
	struct queue_waiters *qw = waiters_of(node);

	waitq_free(qw->readers);
	waitq_free(qw->writers);
	waitq_free(qw->settling);
	pthread_mutex_destroy(&qw->lock);
	free(qw);
}

/* The mode without its write bits while sealed (queue.h). */
static mode_t shown_mode(const struct queue_stats *qs)
{
	return qs->sealed ? qs->mode & ~0222u : qs->mode;
}

/* The mode shows the seal; the size is QUEUE_ST_SIZE. */
static int getattr(struct rwfs *fs, const struct node *node, struct stat *st)
{
	struct queue_stats qs;
	int ret = state_queue_stats(fs->st, node->index, NULL, &qs);

	if (ret)
		return ret;
	st->st_mode = S_IFREG | shown_mode(&qs);
	owner_show(st, qs.uid, qs.gid);
	st->st_size = QUEUE_ST_SIZE;
	return 0;
}

int queue_class_seal(fuse_req_t req, uint64_t id, const char *name, bool seal)
{
	struct rwfs *fs = fs_of(req);
	struct queue_stats qs;
	int ret = state_queue_stats(fs->st, id, NULL, &qs);

	/* By name, from queues/: whoever may remove the queue may seal it. */
	if (!ret && !owner_may_remove(req, S_ISVTX, QUEUE_OWNER_DAEMON, qs.uid))
		ret = -EPERM;
	/* Logged before the wake, so the seal comes before what it ends. */
	queue_class_hold();
	if (!ret)
		ret = state_queue_seal(fs->st, id, seal, client_pid(req));
	if (logging(fs))
		log_event(fs, req, "%s queues/%s -> %s", seal ? "seal" : "unseal", name,
			  log_outcome_text(ret));
	queue_class_release(fs, id);
	return ret;
}

/* chmod by the owner or root: without write permission the queue is
 * sealed, with it unsealed, and the other bits are kept.  Logged as a seal
 * or an unseal when it is one. */
static int chmod_queue(fuse_req_t req, struct node *node, const struct queue_stats *qs,
		       mode_t mode)
{
	struct rwfs *fs = fs_of(req);
	bool seal = !(mode & 0222);
	int ret;

	if (!owner_may_chmod(req, qs->uid))
		return -EPERM;
	queue_class_hold();
	ret = state_queue_setattr(fs->st, node->index, QUEUES_SET_MODE, mode & QUEUE_MODE_MASK,
				  0, 0, client_pid(req));
	if (logging(fs) && seal != qs->sealed)
		log_event(fs, req, "%s queues/%s -> %s", seal ? "seal" : "unseal", node->name,
			  log_outcome_text(ret));
	else if (logging(fs))
		log_event(fs, req, "chmod queues/%s %04o -> %s", node->name,
			  (unsigned)(mode & QUEUE_MODE_MASK), log_outcome_text(ret));
	queue_class_release(fs, node->index);
	return ret;
}

/* chown by root; to the owner it has, by anyone (a no-op). */
static int chown_queue(fuse_req_t req, struct node *node, const struct queue_stats *qs,
		       const struct stat *attr, int to_set)
{
	uint32_t uid = to_set & FUSE_SET_ATTR_UID ? (uint32_t)attr->st_uid : qs->uid;
	uint32_t gid = to_set & FUSE_SET_ATTR_GID ? (uint32_t)attr->st_gid : qs->gid;

	if (!owner_may_chown(req, qs->uid, qs->gid, attr, to_set))
		return -EPERM;
	if (fuse_req_ctx(req)->uid != 0)
		return 0;
	return state_queue_setattr(fs_of(req)->st, node->index, QUEUES_SET_OWNER, 0, uid, gid,
				   client_pid(req));
}

static int setattr(fuse_req_t req, struct node *node, const struct stat *attr, int *to_set)
{
	int owner_bits = *to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID);
	struct queue_stats qs;
	int ret;

	if (!(*to_set & FUSE_SET_ATTR_MODE) && !owner_bits)
		return 0;
	ret = state_queue_stats(fs_of(req)->st, node->index, NULL, &qs);
	if (!ret && owner_bits)
		ret = chown_queue(req, node, &qs, attr, *to_set);
	if (!ret && (*to_set & FUSE_SET_ATTR_MODE))
		ret = chmod_queue(req, node, &qs, attr->st_mode);
	*to_set &= ~(FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID);
	return ret;
}

/* --- the open file --------------------------------------------------------- */

static int open_queue(struct rwfs *fs, struct handle *h)
{
	return state_queue_stats(fs->st, h->node->index, NULL, NULL);
}

static void release(struct rwfs *fs, struct handle *h)
{
	(void)fs;
	waitq_forget(waiters_of(h->node)->readers, h);
}

/* A sealed queue whose last items are held ends or gives one back as soon
 * as their replies are settled, a moment later: even an O_NONBLOCK reader
 * waits for that rather than see EAGAIN from a queue that will never fill. */
static bool awaits_held(struct rwfs *fs, uint64_t id)
{
	struct queue_stats qs;

	return state_queue_stats(fs->st, id, NULL, &qs) == 0 && qs.sealed && qs.depth == 0 &&
	       qs.held > 0;
}

static void read_queue(fuse_req_t req, struct handle *h, size_t size, off_t off, int flags)
{
	struct rwfs *fs = fs_of(req);
	struct pending_read *p = malloc(sizeof(*p));
	uint64_t id = h->node->index; /* once answered, h may be released */

	(void)off;
	if (!p) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p->h = h;
	p->nonblock = flags & O_NONBLOCK;
	/* An O_NONBLOCK read answers now, ahead of any parked ones, or waits
	 * apart from them, so that none of them holds it back. */
	if (!p->nonblock)
		waitq_park(waiters_of(h->node)->readers, req, p, size);
	else if (awaits_held(fs, id) || !read_try(req, p, size))
		waitq_park(waiters_of(h->node)->settling, req, p, size);
	flush_change(fs, id);
}

/* A new write goes behind the writers already waiting: with O_NONBLOCK it
 * then gets EAGAIN at once. */
static void write_queue(fuse_req_t req, struct handle *h, const char *buf, size_t size,
			off_t off, int flags)
{
	struct rwfs *fs = fs_of(req);
	struct waitq *writers = waiters_of(h->node)->writers;
	struct pending_write *p = malloc(sizeof(*p) + size);
	uint64_t id = h->node->index; /* once answered, h may be released */

	(void)off;
	if (!p) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p->h = h;
	p->len = size;
	memcpy(p->data, buf, size);
	if (!(flags & O_NONBLOCK)) {
		waitq_park(writers, req, p, size);
	} else if (waitq_waiting(writers) || !write_try(req, p, size)) {
		fuse_reply_err(req, EAGAIN);
		free(p);
	}
	flush_change(fs, id);
}

static void poll_queue(fuse_req_t req, struct handle *h, struct fuse_pollhandle *ph)
{
	struct rwfs *fs = fs_of(req);
	struct queue_waiters *qw = waiters_of(h->node);
	struct queue_stats qs;
	unsigned revents;

	/* Registered before looking, so a change in between still wakes. */
	waitq_poll(qw->readers, h, ph);
	if (state_queue_stats(fs->st, h->node->index, NULL, &qs) != 0)
		revents = POLLIN | POLLERR | POLLHUP; /* removed: reads end, writes fail */
	else
		/* A writer already waiting gets the room first. */
		revents = (qs.depth > 0 || qs.sealed ? POLLIN : 0) |
			  (!qs.sealed && qs.depth < qs.capacity && !waitq_waiting(qw->writers)
				   ? POLLOUT : 0);
	fuse_reply_poll(req, revents);
}

/* --- attributes -------------------------------------------------------------- */

static int setxattr(fuse_req_t req, struct node *node, const char *name, const char *value,
		    size_t size)
{
	struct rwfs *fs = fs_of(req);
	char number[16], *end;
	unsigned long capacity;

	if (strcmp(name, BYTES_XATTR) == 0)
		return -EPERM;
	if (strcmp(name, CAPACITY_XATTR) != 0)
		return -ENOTSUP;
	if (size == 0 || size >= sizeof(number))
		return -EINVAL;
	memcpy(number, value, size);
	number[size] = '\0';
	capacity = strtoul(number, &end, 10);
	if (*end && *end != '\n')
		return -EINVAL;
	return state_queue_set_capacity(fs->st, node->index, capacity, client_pid(req));
}

static void getxattr(fuse_req_t req, struct node *node, const char *name, size_t size)
{
	struct rwfs *fs = fs_of(req);
	struct queue_stats qs;
	bool capacity = strcmp(name, CAPACITY_XATTR) == 0;
	char number[24];
	int n;

	if (!capacity && strcmp(name, BYTES_XATTR) != 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (state_queue_stats(fs->st, node->index, NULL, &qs) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	n = snprintf(number, sizeof(number), "%llu",
		     (unsigned long long)(capacity ? qs.capacity : qs.bytes));
	if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else if (size < (size_t)n)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, number, (size_t)n);
}

/* --- mnt/stats ----------------------------------------------------------------- */

/* The parked readers and writers of queue id. */
static void count_waiting(struct rwfs *fs, uint64_t id, unsigned *readers, unsigned *writers)
{
	struct node *node = node_find(fs->nodes, &queue_class, id);

	*readers = node ? waitq_waiting(waiters_of(node)->readers) +
				  waitq_waiting(waiters_of(node)->settling)
			: 0;
	*writers = node ? waitq_waiting(waiters_of(node)->writers) : 0;
	node_put(fs->nodes, node);
}

size_t queue_class_format_stats(struct rwfs *fs, char *buf, size_t size, size_t len)
{
	char name[QUEUE_NAME_MAX + 1];
	struct queue_stats qs;
	unsigned readers, writers;
	uint64_t id;

	for (size_t i = 0; state_queue_at(fs->st, i, &id, name, &qs) == 0; i++) {
		size_t at = len < size ? len : size;

		count_waiting(fs, id, &readers, &writers);
		len += (size_t)snprintf(buf + at, size - at,
					"queue.%s.depth %llu\n"
					"queue.%s.capacity %llu\n"
					"queue.%s.bytes %llu\n"
					"queue.%s.in %llu\n"
					"queue.%s.out %llu\n"
					"queue.%s.sealed %d\n"
					"queue.%s.readers_waiting %u\n"
					"queue.%s.writers_waiting %u\n",
					name, (unsigned long long)qs.depth,
					name, (unsigned long long)qs.capacity,
					name, (unsigned long long)qs.bytes,
					name, (unsigned long long)qs.total_in,
					name, (unsigned long long)qs.total_out,
					name, qs.sealed, name, readers, name, writers);
	}
	return len;
}

static const char xattr_names[] = CAPACITY_XATTR "\0" BYTES_XATTR; /* with its NUL */

const struct node_class queue_class = {
	.ino_base = 1ull << 32,
	.mode = S_IFREG | 0666,
	/* Others create and remove queues: the kernel must ask each time. */
	.entry_timeout = 0,
	/* Writes of one queue run in parallel in the kernel, so that a
	 * writer parked on a full queue makes no other writer wait there
	 * (see QUEUE_ST_SIZE); a stream has no offset, so each write ends
	 * at its length. */
	.open_flags = FOPEN_DIRECT_IO | FOPEN_NONSEEKABLE | FOPEN_STREAM |
		      FOPEN_PARALLEL_DIRECT_WRITES,
	.xattrs = xattr_names,
	.xattrs_size = sizeof(xattr_names),
	.init = init,
	.release_node = release_node,
	.getattr = getattr,
	.setattr = setattr,
	.open = open_queue,
	.release = release,
	.read = read_queue,
	.write = write_queue,
	.poll = poll_queue,
	.setxattr = setxattr,
	.getxattr = getxattr,
};
