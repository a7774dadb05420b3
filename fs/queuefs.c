/* queuefs.c - mnt/queues/: queues as files that behave like named pipes.
 *
 * A read takes one item; a write puts its lines in as items.  A read of an
 * empty queue, or a write to a full one, parks its request (wait.c) instead
 * of holding a worker thread, and the operation that makes it ready answers
 * it.  Each queue has two parked-request queues, readers and writers, kept
 * in a struct qwait; after any change to a queue, kick() retries readers
 * and writers until neither moves, so one's progress wakes the other
 * without either waking the other from inside its own lock.
 *
 * No item is lost or delivered twice: an item leaves the queue (and the
 * journal says so) only while its reader's request is live and not
 * interrupted; if the reply cannot be delivered, the item goes back to the
 * head.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

#define CAPACITY_XATTR "user.capacity"

struct qwait {
	struct qwait *next;     /* under fs->handles_lock */
	uint64_t id;
	unsigned refs;          /* under fs->handles_lock */
	bool deleted;           /* under fs->handles_lock */
	struct waitq *readers;  /* its pollers are told of every change */
	struct waitq *writers;
};

/* A write waiting for room: its bytes, copied, since libfuse reuses the
 * request buffer once the handler returns. */
struct pending_write {
	struct handle *h;
	size_t len;
	char data[];
};

/* --- parked readers and writers ---------------------------------------- */

/* "error: MESSAGE" for an event line, as the other files log failures. */
static const char *outcome(int ret)
{
	static __thread char text[80];

	snprintf(text, sizeof(text), "error: %s", strerror(-ret));
	return text;
}

static void queue_path(struct rwfs *fs, uint64_t id, char *buf, size_t size)
{
	char name[QUEUE_NAME_MAX + 1] = "?";

	state_queue_stats(fs->st, id, name, NULL);
	snprintf(buf, size, "queues/%s", name);
}

/* Hands the head item to a parked or new reader, if there is one. */
static bool read_try(fuse_req_t req, void *arg, size_t size)
{
	struct handle *h = arg;
	struct rwfs *fs = fs_of(req);
	char item[QUEUE_MAX_ITEM + 1], path[80];
	size_t len;
	int ret;

	if (fuse_req_interrupted(req)) {
		fuse_reply_err(req, EINTR);
		return true;
	}
	ret = state_queue_pop(fs->st, h->node.index, size, item, &len);
	if (ret == -EAGAIN)
		return false;
	if (logging(fs)) {
		char quoted[QUOTED_SIZE];

		queue_path(fs, h->node.index, path, sizeof(path));
		log_quote(item, ret == 0 ? len : 0, quoted, sizeof(quoted));
		log_event(fs, req, "read %s -> %s%s", path,
			  ret < 0 && ret != -ENOENT ? "error: " : "",
			  ret == 0 ? quoted : ret > 0 || ret == -ENOENT ? "end of file"
									: strerror(-ret));
	}
	if (ret == 1 || ret == -ENOENT) {
		fuse_reply_buf(req, NULL, 0);
	} else if (ret < 0) {
		fuse_reply_err(req, -ret);
	} else {
		item[len] = '\n';
		if (fuse_reply_buf(req, item, len + 1) != 0)
			state_queue_unpop(fs->st, h->node.index, item, len);
	}
	return true;
}

static void read_end(fuse_req_t req, void *arg, int err)
{
	(void)arg;
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, NULL, 0);
}

/* Pushes a parked or new write, if there is room now. */
static bool write_try(fuse_req_t req, void *arg, size_t size)
{
	struct pending_write *p = arg;
	struct rwfs *fs = fs_of(req);
	char path[80];
	int ret;

	(void)size;
	if (fuse_req_interrupted(req)) {
		fuse_reply_err(req, EINTR);
		free(p);
		return true;
	}
	ret = state_queue_push(fs->st, p->h->node.index, p->data, p->len);
	if (ret == -EAGAIN)
		return false;
	if (ret == -ENOENT)
		ret = -EPIPE;
	if (logging(fs)) {
		char what[96];

		queue_path(fs, p->h->node.index, path, sizeof(path));
		snprintf(what, sizeof(what), "write %s", path);
		log_outcome(fs, req, what, p->data, p->len, ret ? outcome(ret) : "ok");
	}
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, p->len);
	free(p);
	return true;
}

static void write_end(fuse_req_t req, void *arg, int err)
{
	fuse_reply_err(req, err ? err : EPIPE);
	free(arg);
}

/* The qwait of queue id, made on first use when make is set; the caller
 * puts it back.  NULL when there is none, when out of memory, or when the
 * queue was removed. */
static struct qwait *qwait_find(struct rwfs *fs, uint64_t id, bool make)
{
	struct qwait *qw;

	pthread_mutex_lock(&fs->handles_lock);
	for (qw = fs->qwaits; qw && qw->id != id; qw = qw->next)
		;
	/* A removed queue gets none: its handles are answered at once. */
	if (!qw && make && state_queue_stats(fs->st, id, NULL, NULL) == 0) {
		qw = calloc(1, sizeof(*qw));
		if (qw) {
			qw->id = id;
			qw->readers = waitq_new(read_try, read_end);
			qw->writers = waitq_new(write_try, write_end);
			if (!qw->readers || !qw->writers) {
				waitq_free(qw->readers);
				waitq_free(qw->writers);
				free(qw);
				qw = NULL;
			} else {
				qw->next = fs->qwaits;
				fs->qwaits = qw;
			}
		}
	}
	if (qw)
		qw->refs++;
	pthread_mutex_unlock(&fs->handles_lock);
	return qw;
}

static struct qwait *qwait_get(struct rwfs *fs, uint64_t id)
{
	return qwait_find(fs, id, true);
}

static void qwait_free(struct qwait *qw)
{
	waitq_free(qw->readers);
	waitq_free(qw->writers);
	free(qw);
}

static void qwait_put(struct rwfs *fs, struct qwait *qw)
{
	bool gone;

	pthread_mutex_lock(&fs->handles_lock);
	gone = --qw->refs == 0 && qw->deleted;
	pthread_mutex_unlock(&fs->handles_lock);
	if (gone)
		qwait_free(qw);
}

/* Retries readers and writers until neither makes progress: an item taken
 * makes room for a writer, an item written feeds a reader.  Also tells the
 * pollers, through the readers' wake. */
static void kick(struct qwait *qw)
{
	unsigned moved;

	do {
		moved = waitq_wake(qw->readers);
		moved += waitq_wake(qw->writers);
	} while (moved);
}

static void kick_id(struct rwfs *fs, uint64_t id)
{
	struct qwait *qw = qwait_get(fs, id);

	if (qw) {
		kick(qw);
		qwait_put(fs, qw);
	}
}

/* --- the operations -------------------------------------------------- */

static void fill_entry(struct rwfs *fs, uint64_t id, struct fuse_entry_param *e)
{
	struct node node = { NODE_QUEUE, id };

	memset(e, 0, sizeof(*e));
	e->ino = node_ino(&node);
	/* Others create and remove queues: the kernel must ask each time. */
	e->entry_timeout = 0;
	e->attr_timeout = ATTR_TIMEOUT;
	queuefs_getattr(fs, &node, &e->attr);
}

int queuefs_lookup(struct rwfs *fs, const char *name, struct fuse_entry_param *e)
{
	uint64_t id;
	int ret = state_queue_find(fs->st, name, strlen(name), &id, NULL);

	if (!ret)
		fill_entry(fs, id, e);
	return ret;
}

int queuefs_getattr(struct rwfs *fs, const struct node *node, struct stat *st)
{
	struct queue_stats qs;
	int ret = state_queue_stats(fs->st, node->index, NULL, &qs);

	if (ret)
		return ret;
	memset(st, 0, sizeof(*st));
	st->st_ino = node_ino(node);
	st->st_mode = S_IFREG | (qs.sealed ? 0444 : 0666);
	st->st_nlink = 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_size = (off_t)qs.bytes;
	st->st_atim = st->st_mtim = st->st_ctim = fs->mounted;
	return 0;
}

size_t queuefs_readdir(fuse_req_t req, struct rwfs *fs, size_t i, off_t off, char *buf,
		       size_t size)
{
	char name[QUEUE_NAME_MAX + 1];
	size_t used = 0;
	uint64_t id;

	for (; state_queue_at(fs->st, i, &id, name, NULL) == 0; i++, off++) {
		struct node node = { NODE_QUEUE, id };
		struct stat st = { .st_ino = node_ino(&node), .st_mode = S_IFREG };
		size_t need = fuse_add_direntry(req, buf + used, size - used, name, &st, off + 1);

		if (need > size - used)
			break;
		used += need;
	}
	return used;
}

int queuefs_create(fuse_req_t req, const char *name, struct fuse_entry_param *e)
{
	struct rwfs *fs = fs_of(req);
	uint64_t id;
	int ret = state_queue_create(fs->st, name, strlen(name), &id);

	if (logging(fs))
		log_event(fs, req, "create queues/%s -> %s", name, ret ? outcome(ret) : "ok");
	if (!ret)
		fill_entry(fs, id, e);
	return ret;
}

int queuefs_unlink(fuse_req_t req, const char *name)
{
	struct rwfs *fs = fs_of(req);
	struct qwait *qw;
	uint64_t id;
	int ret = state_queue_delete(fs->st, name, strlen(name), &id);

	if (logging(fs))
		log_event(fs, req, "rm queues/%s -> %s", name, ret ? outcome(ret) : "ok");
	if (ret)
		return ret;
	qw = qwait_find(fs, id, false);
	if (qw) {
		pthread_mutex_lock(&fs->handles_lock);
		for (struct qwait **link = &fs->qwaits; *link; link = &(*link)->next) {
			if (*link == qw) {
				*link = qw->next;
				break;
			}
		}
		qw->deleted = true;
		pthread_mutex_unlock(&fs->handles_lock);
		waitq_end_all(qw->readers);
		waitq_end_all(qw->writers);
		kick(qw); /* tells the pollers */
		qwait_put(fs, qw);
	}
	return 0;
}

int queuefs_chmod(fuse_req_t req, const struct node *node, mode_t mode)
{
	struct rwfs *fs = fs_of(req);
	bool seal = !(mode & 0222);
	int ret = state_queue_seal(fs->st, node->index, seal);

	if (logging(fs)) {
		char path[80];

		queue_path(fs, node->index, path, sizeof(path));
		log_event(fs, req, "%s %s -> %s", seal ? "seal" : "unseal", path,
			  ret ? outcome(ret) : "ok");
	}
	if (!ret)
		kick_id(fs, node->index);
	return ret;
}

void queuefs_read(fuse_req_t req, struct handle *h, size_t size, int flags)
{
	struct rwfs *fs = fs_of(req);
	struct qwait *qw = qwait_get(fs, h->node.index);

	if (!qw) {
		/* Removed: read_try answers end of file. */
		if (!read_try(req, h, size))
			fuse_reply_err(req, ENOMEM);
		return;
	}
	if (flags & O_NONBLOCK) {
		if (!read_try(req, h, size))
			fuse_reply_err(req, EAGAIN);
	} else {
		waitq_park(qw->readers, req, h, size);
	}
	kick(qw);
	qwait_put(fs, qw);
}

void queuefs_write(fuse_req_t req, struct handle *h, const char *buf, size_t size,
		   int flags)
{
	struct rwfs *fs = fs_of(req);
	struct pending_write *p = malloc(sizeof(*p) + size);
	struct qwait *qw = p ? qwait_get(fs, h->node.index) : NULL;

	if (!p) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p->h = h;
	p->len = size;
	memcpy(p->data, buf, size);
	if (!qw) {
		/* Removed: write_try answers EPIPE. */
		if (!write_try(req, p, size)) {
			fuse_reply_err(req, ENOMEM);
			free(p);
		}
		return;
	}
	if (flags & O_NONBLOCK) {
		if (!write_try(req, p, size)) {
			fuse_reply_err(req, EAGAIN);
			free(p);
		}
	} else {
		waitq_park(qw->writers, req, p, size);
	}
	kick(qw);
	qwait_put(fs, qw);
}

void queuefs_poll(fuse_req_t req, struct handle *h, struct fuse_pollhandle *ph)
{
	struct rwfs *fs = fs_of(req);
	struct qwait *qw = qwait_get(fs, h->node.index);
	struct queue_stats qs;
	unsigned revents;

	/* Registered before looking, so a change in between still wakes; a
	 * removed queue (no qwait) will not change again. */
	if (qw)
		waitq_poll(qw->readers, h, ph);
	else if (ph)
		fuse_pollhandle_destroy(ph);
	if (state_queue_stats(fs->st, h->node.index, NULL, &qs) != 0)
		revents = POLLIN | POLLERR | POLLHUP; /* removed: reads end, writes fail */
	else
		/* A writer already waiting gets the room first, and holds the
		 * kernel's lock on the file until it does. */
		revents = (qs.depth > 0 || qs.sealed ? POLLIN : 0) |
			  (!qs.sealed && qs.depth < qs.capacity &&
					   !(qw && waitq_waiting(qw->writers)) ? POLLOUT : 0);
	if (qw)
		qwait_put(fs, qw);
	fuse_reply_poll(req, revents);
}

void queuefs_forget(struct rwfs *fs, struct handle *h)
{
	struct qwait *qw = qwait_find(fs, h->node.index, false);

	if (qw) {
		waitq_forget(qw->readers, h);
		qwait_put(fs, qw);
	}
}

void queuefs_setxattr(fuse_req_t req, const struct node *node, const char *name,
		      const char *value, size_t size)
{
	struct rwfs *fs = fs_of(req);
	char number[16];
	char *end;
	unsigned long capacity;
	int ret = 0;

	if (strcmp(name, CAPACITY_XATTR) != 0)
		ret = -ENOTSUP;
	else if (size == 0 || size >= sizeof(number))
		ret = -EINVAL;
	if (!ret) {
		memcpy(number, value, size);
		number[size] = '\0';
		capacity = strtoul(number, &end, 10);
		ret = *end && *end != '\n' ? -EINVAL
					    : state_queue_set_capacity(fs->st, node->index, capacity);
	}
	if (!ret)
		kick_id(fs, node->index);
	fuse_reply_err(req, -ret);
}

void queuefs_getxattr(fuse_req_t req, const struct node *node, const char *name,
		      size_t size)
{
	struct rwfs *fs = fs_of(req);
	struct queue_stats qs;
	char number[24];
	int n;

	if (strcmp(name, CAPACITY_XATTR) != 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (state_queue_stats(fs->st, node->index, NULL, &qs) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	n = snprintf(number, sizeof(number), "%llu", (unsigned long long)qs.capacity);
	if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else if (size < (size_t)n)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, number, (size_t)n);
}

/* The parked readers and writers of queue id, without making a qwait. */
static void count_waiting(struct rwfs *fs, uint64_t id, unsigned *readers, unsigned *writers)
{
	struct qwait *qw;

	*readers = *writers = 0;
	pthread_mutex_lock(&fs->handles_lock);
	for (qw = fs->qwaits; qw && qw->id != id; qw = qw->next)
		;
	if (qw) {
		*readers = waitq_waiting(qw->readers);
		*writers = waitq_waiting(qw->writers);
	}
	pthread_mutex_unlock(&fs->handles_lock);
}

size_t queuefs_format_stats(struct rwfs *fs, char *buf, size_t size, size_t len)
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

void queuefs_free(struct rwfs *fs)
{
	while (fs->qwaits) {
		struct qwait *qw = fs->qwaits;

		fs->qwaits = qw->next;
		qwait_free(qw);
	}
}
