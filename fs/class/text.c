/* text.c - read-only snapshot files (registers, stats, inventory), and the
 * texts a handle holds: the snapshot of a value or table, the reply of
 * ctl and shop.
 *
 * A snapshot is taken at offset 0, so a client reading one byte at a time
 * still sees one text; a read at offset 0 takes a fresh one, so a pread
 * loop always sees the latest.  A reply is served as a stream, whatever
 * the offset.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/reply.h"
#include "class.h"

/* Replaces h's text with a fresh one of its node's format.  Under h->lock. */
static int take_snapshot(struct rwfs *fs, struct handle *h)
{
	const struct node_class *class = h->node->class;
	int n = class->format(fs, h->node, h->text, h->cap);

	if ((size_t)n >= h->cap) {
		size_t cap = (size_t)n + 64;
		char *text = realloc(h->text, cap);

		if (!text)
			return -ENOMEM;
		h->text = text;
		h->cap = cap;
		n = class->format(fs, h->node, h->text, h->cap);
		if ((size_t)n >= h->cap)
			n = (int)h->cap - 1;
	}
	h->len = (size_t)n;
	return 0;
}

/* Copies n bytes of h's text from off into small (small_size bytes) or a
 * malloc'd buffer, in *buf.  Under h->lock.  The reply is only sent after
 * the lock is dropped: once it is out, the client may close the file and
 * release may free h on another thread. */
static int copy_out(struct handle *h, size_t off, size_t n, char *small, size_t small_size,
		    char **buf)
{
	*buf = n <= small_size ? small : malloc(n);
	if (!*buf)
		return -ENOMEM;
	if (n)
		memcpy(*buf, h->text + off, n);
	return 0;
}

/* The copy is wiped once sent: a shop reply holds a token. */
static void reply_copy(fuse_req_t req, int ret, char *buf, size_t n, const char *small)
{
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_buf(req, buf, n);
	if (!ret)
		explicit_bzero(buf, n);
	if (buf != small)
		free(buf);
}

/* Logs the read of h's snapshot: the value it showed, or only "ok". */
static void log_read(struct rwfs *fs, fuse_req_t req, const struct handle *h, int ret,
		     bool show_value)
{
	const char *outcome = log_outcome_text(ret);

	if (!ret && show_value)
		log_result(fs, req, "read", h->node, h->text, h->len - 1);
	else
		log_result(fs, req, "read", h->node, outcome, strlen(outcome));
}

void text_read_snapshot(fuse_req_t req, struct handle *h, size_t size, off_t off,
			bool show_value)
{
	struct rwfs *fs = fs_of(req);
	char small[64], *buf = small;
	size_t n = 0;
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	if (off == 0 || !h->text) {
		/* With a shared log, a read sees every write acknowledged on any
		 * host before it began. */
		ret = state_catch_up(fs->st);
		if (!ret)
			ret = take_snapshot(fs, h);
		if (logging(fs))
			log_read(fs, req, h, ret, show_value);
	}
	if (!ret && (size_t)off < h->len) {
		n = size < h->len - (size_t)off ? size : h->len - (size_t)off;
		ret = copy_out(h, (size_t)off, n, small, sizeof(small), &buf);
	}
	pthread_mutex_unlock(&h->lock);
	reply_copy(req, ret, buf, n, small);
}

/* Replaces h's text with reply, to be read from its start.  Under h->lock. */
static void set_reply(struct handle *h, char *reply, size_t len)
{
	/* The reply it replaces may hold a token. */
	if (h->text)
		explicit_bzero(h->text, h->len);
	free(h->text);
	h->text = reply;
	h->len = len;
	h->cap = len;
	h->cursor = 0;
}

/* Prints the batch h keeps into its text.  Under h->lock. */
static int print_batch(struct handle *h)
{
	char *text;
	size_t len;
	int ret = reply_text(h->batch, &text, &len);

	if (ret)
		return ret;
	set_reply(h, text, len);
	reply_free(h->batch);
	h->batch = NULL;
	return 0;
}

void text_read_reply(fuse_req_t req, struct handle *h, size_t size)
{
	char small[64], *buf = small;
	size_t n = 0;
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	if (h->batch)
		ret = print_batch(h);
	if (!ret) {
		n = h->len - h->cursor;
		if (n > size)
			n = size;
		ret = copy_out(h, h->cursor, n, small, sizeof(small), &buf);
	}
	if (!ret)
		h->cursor += n;
	pthread_mutex_unlock(&h->lock);
	reply_copy(req, ret, buf, n, small);
}

void text_keep_reply(struct handle *h, char *reply, size_t len)
{
	pthread_mutex_lock(&h->lock);
	set_reply(h, reply, len);
	pthread_mutex_unlock(&h->lock);
}

void text_keep_batch(struct handle *h, struct reply *batch)
{
	struct reply *old;

	pthread_mutex_lock(&h->lock);
	set_reply(h, NULL, 0);
	old = h->batch;
	h->batch = batch;
	pthread_mutex_unlock(&h->lock);
	reply_free(old);
}

size_t text_add_direntry(fuse_req_t req, char *buf, size_t size, const char *name,
			 fuse_ino_t ino, mode_t mode, off_t off)
{
	struct stat st = { .st_ino = ino, .st_mode = mode };
	size_t need = fuse_add_direntry(req, buf, size, name, &st, off);

	return need > size ? 0 : need;
}

/* --- the snapshot files ---------------------------------------------------- */

static int format_registers(struct rwfs *fs, const struct node *node, char *buf, size_t size)
{
	int64_t regs[ISA_REGISTERS];
	size_t len = 0;

	(void)node;
	state_read_registers(fs->st, regs);
	for (int r = 0; r < ISA_REGISTERS; r++) {
		size_t at = len < size ? len : size;

		len += (size_t)snprintf(buf + at, size - at, "%c %lld\n", 'A' + r,
					(long long)regs[r]);
	}
	return (int)len;
}

/* What an operator looks for first, as Redis INFO starts: which daemon. */
static int format_stats(struct rwfs *fs, const struct node *node, char *buf, size_t size)
{
	size_t len = (size_t)snprintf(buf, size, "version %s\npid %ld\n", RWFS_VERSION,
				      (long)getpid());
	size_t at = len < size ? len : size;

	(void)node;
	len += (size_t)state_format_stats(fs->st, buf + at, size - at);
	return (int)queue_class_format_stats(fs, buf, size, len);
}

static int format_inventory(struct rwfs *fs, const struct node *node, char *buf, size_t size)
{
	(void)node;
	return state_format_inventory(fs->st, buf, size);
}

static void read_text(fuse_req_t req, struct handle *h, size_t size, off_t off, int flags)
{
	(void)flags;
	text_read_snapshot(req, h, size, off, false);
}

#define SNAPSHOT_FILE(ino, fn)                     \
	{                                          \
		.ino_base = (ino),                 \
		.mode = S_IFREG | 0444,            \
		.entry_timeout = 86400.0,          \
		.open_flags = FOPEN_DIRECT_IO,     \
		.format = (fn),                    \
		.read = read_text,                 \
	}

const struct node_class registers_class = SNAPSHOT_FILE(28, format_registers);
const struct node_class stats_class = SNAPSHOT_FILE(30, format_stats);
const struct node_class inventory_class = SNAPSHOT_FILE(34, format_inventory);
