/* ops.c - the fuse_lowlevel_ops table of rwfs.  See ops.h.
 *
 * An open file is a struct handle in fi->fh.  A readable value file keeps
 * the text it read at offset 0 (its snapshot), so a client reading one
 * byte at a time still sees one value; a read at offset 0 takes a fresh
 * snapshot, so a pread loop always sees the latest value.  mnt/ctl keeps
 * the reply of its last batch and hands it out as a stream, whatever the
 * offset, so `exec 3<>mnt/ctl; echo ... >&3; cat <&3` works.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"

/* Fixed names never change, so the kernel may keep them; attributes
 * change with every write, so it may not. */
#define ENTRY_TIMEOUT 86400.0
#define EVENTS_CHUNK 16384 /* most bytes of events one read returns */

static void drop_login(struct handle *h);
static void read_shop(fuse_req_t req, struct handle *h, size_t size);

/* --- file contents ------------------------------------------------------ */

/* Writes the current text of a readable node into buf (NUL-terminated),
 * returning the length it needed, like snprintf. */
static int format_node(struct rwfs *fs, const struct node *node, char *buf, size_t size)
{
	int64_t v, regs[ISA_REGISTERS];
	size_t len = 0;

	switch (node->kind) {
	case NODE_REGISTER:
		v = state_read_register(fs->st, (int)node->index);
		return snprintf(buf, size, "%lld\n", (long long)v);
	case NODE_CELL:
		if (state_read_cell(fs->st, node->index, &v))
			v = 0;
		return snprintf(buf, size, "%lld\n", (long long)v);
	case NODE_REGISTERS:
		state_read_registers(fs->st, regs);
		for (int r = 0; r < ISA_REGISTERS; r++) {
			size_t at = len < size ? len : size;

			len += (size_t)snprintf(buf + at, size - at, "%c %lld\n", 'A' + r,
						(long long)regs[r]);
		}
		return (int)len;
	case NODE_STATS:
		len = (size_t)state_format_stats(fs->st, buf, size);
		return (int)queuefs_format_stats(fs, buf, size, len);
	case NODE_INVENTORY:
		return state_format_inventory(fs->st, buf, size);
	default:
		if (size)
			buf[0] = '\0';
		return 0;
	}
}

/* Replaces h's text with a fresh snapshot of its node.  Under h->lock. */
static int take_snapshot(struct rwfs *fs, struct handle *h)
{
	int n = format_node(fs, &h->node, h->text, h->cap);

	if ((size_t)n >= h->cap) {
		size_t cap = (size_t)n + 64;
		char *text = realloc(h->text, cap);

		if (!text)
			return -ENOMEM;
		h->text = text;
		h->cap = cap;
		n = format_node(fs, &h->node, h->text, h->cap);
		if ((size_t)n >= h->cap)
			n = (int)h->cap - 1;
	}
	h->len = (size_t)n;
	return 0;
}

static void fill_attr(struct rwfs *fs, const struct node *node, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = node_ino(node);
	st->st_mode = node_mode(node);
	st->st_nlink = S_ISDIR(st->st_mode) ? 2 : 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_size = format_node(fs, node, NULL, 0);
	st->st_atim = st->st_mtim = st->st_ctim = fs->mounted;
}

static int node_of(fuse_req_t req, fuse_ino_t ino, struct node *node)
{
	return node_from_ino(ino, state_ncells(fs_of(req)->st), node);
}

/* --- mnt/events: parked readers ------------------------------------------ */

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

static void read_events(fuse_req_t req, struct handle *h, size_t size, int flags)
{
	struct rwfs *fs = fs_of(req);

	if (!(flags & O_NONBLOCK)) {
		waitq_park(fs->events, req, h, size);
		return;
	}
	if (!events_try(req, h, size))
		fuse_reply_err(req, EAGAIN);
}

/* --- operations ---------------------------------------------------------- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* `echo 5 > mnt/A` must be one update: with this the kernel passes
	 * O_TRUNC to open instead of sending a separate truncate to 0. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct rwfs *fs = fs_of(req);
	struct fuse_entry_param e = { 0 };
	struct node dir, node;
	int ret;

	ret = node_of(req, parent, &dir);
	if (!ret && dir.kind == NODE_QUEUEDIR) {
		ret = queuefs_lookup(fs, name, &e);
		if (ret)
			fuse_reply_err(req, -ret);
		else
			fuse_reply_entry(req, &e);
		return;
	}
	if (!ret)
		ret = node_lookup(&dir, name, state_ncells(fs->st), &node);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	e.ino = node_ino(&node);
	e.entry_timeout = ENTRY_TIMEOUT;
	e.attr_timeout = ATTR_TIMEOUT;
	fill_attr(fs, &node, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node node;
	struct stat st;
	int ret;

	(void)fi;
	ret = node_of(req, ino, &node);
	if (!ret && node.kind == NODE_QUEUE)
		ret = queuefs_getattr(fs_of(req), &node, &st);
	else if (!ret)
		fill_attr(fs_of(req), &node, &st);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

/* A truncate of a value file, of ctl or of a queue changes nothing: a
 * value is only ever replaced whole by a write, and items are only taken by
 * reads.  Times are accepted (touch works) and ignored; owners are fixed,
 * and so are modes, but for a queue's write permission: its seal. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct node node;
	int ret;

	ret = node_of(req, ino, &node);
	if (!ret && node.kind == NODE_QUEUE && (to_set & FUSE_SET_ATTR_MODE)) {
		ret = queuefs_chmod(req, &node, attr->st_mode);
		to_set &= ~FUSE_SET_ATTR_MODE;
	}
	if (!ret && (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		ret = -EPERM;
	if (!ret && (to_set & FUSE_SET_ATTR_SIZE) && !(node_mode(&node) & 0222))
		ret = -EACCES;
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	op_getattr(req, ino, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct rwfs *fs = fs_of(req);
	struct node dir, child;
	char name[32], *buf;
	size_t used = 0;
	int ret;

	(void)fi;
	ret = node_of(req, ino, &dir);
	if (!ret && !S_ISDIR(node_mode(&dir)))
		ret = -ENOTDIR;
	buf = ret ? NULL : malloc(size);
	if (!ret && !buf)
		ret = -ENOMEM;
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	/* Offsets 0 and 1 are "." and "..", then the children in order. */
	for (off_t i = off;; i++) {
		if (i >= 2 && dir.kind == NODE_QUEUEDIR) {
			used += queuefs_readdir(req, fs, (size_t)i - 2, i, buf + used,
						size - used);
			break;
		}
		struct stat st = { 0 };
		size_t need;

		if (i == 0 || i == 1) {
			/* ls skips entries without an inode number. */
			snprintf(name, sizeof(name), i == 0 ? "." : "..");
			st.st_ino = i == 0 ? ino : FUSE_ROOT_ID;
			st.st_mode = S_IFDIR;
		} else if (node_child(&dir, (size_t)i - 2, state_ncells(fs->st), &child,
				      name, sizeof(name)) == 0) {
			st.st_ino = node_ino(&child);
			st.st_mode = node_mode(&child);
		} else {
			break;
		}
		need = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

/* A new handle for an open file, on the fs's list.  NULL when out of
 * memory. */
static struct handle *handle_new(struct rwfs *fs, const struct node *node)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->node = *node;
	pthread_mutex_init(&h->lock, NULL);
	if (node->kind == NODE_EVENTS) {
		evlog_subscribe(state_evlog(fs->st));
		h->events_cursor = evlog_tail(state_evlog(fs->st));
	}
	pthread_mutex_lock(&fs->handles_lock);
	h->next = fs->handles;
	if (h->next)
		h->next->prev = h;
	fs->handles = h;
	pthread_mutex_unlock(&fs->handles_lock);
	return h;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rwfs *fs = fs_of(req);
	struct handle *h = NULL;
	struct node node;
	int ret;

	ret = node_of(req, ino, &node);
	if (!ret && node.kind == NODE_QUEUE)
		ret = state_queue_stats(fs->st, node.index, NULL, NULL);
	if (!ret && S_ISDIR(node_mode(&node)))
		ret = -EISDIR;
	if (!ret && (fi->flags & O_ACCMODE) != O_RDONLY && !(node_mode(&node) & 0222))
		ret = -EACCES;
	if (!ret) {
		h = handle_new(fs, &node);
		ret = h ? 0 : -ENOMEM;
	}
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	/* Streams have no positions: ctl's reply, events, queues. */
	fi->nonseekable = node.kind == NODE_CTL || node.kind == NODE_EVENTS ||
			  node.kind == NODE_QUEUE || node.kind == NODE_SHOP;
	fuse_reply_open(req, fi);
}

static void handle_free(struct rwfs *fs, struct handle *h)
{
	if (h->node.kind == NODE_EVENTS) {
		waitq_forget(fs->events, h);
		evlog_unsubscribe(state_evlog(fs->st));
	}
	if (h->node.kind == NODE_QUEUE)
		queuefs_forget(fs, h);
	drop_login(h);
	pthread_mutex_destroy(&h->lock);
	free(h->text);
	free(h);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rwfs *fs = fs_of(req);
	struct handle *h = handle_of(fi);

	(void)ino;
	pthread_mutex_lock(&fs->handles_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		fs->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&fs->handles_lock);
	handle_free(fs, h);
	fuse_reply_err(req, 0);
}

/* Copies n bytes of h's text from off into a buffer the caller frees
 * unless it is small (then *buf is small).  Under h->lock.  The reply is
 * only sent after the lock is dropped: once it is out, the client may close
 * the file and release may free h on another thread. */
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

static void reply_copy(fuse_req_t req, int ret, char *buf, size_t n, const char *small)
{
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_buf(req, buf, n);
	if (buf != small)
		free(buf);
}

static void read_snapshot(fuse_req_t req, struct handle *h, size_t size, off_t off)
{
	struct rwfs *fs = fs_of(req);
	char path[32], small[64], *buf = small;
	size_t n = 0;
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	if (off == 0 || !h->text) {
		ret = take_snapshot(fs, h);
		if (!ret && logging(fs)) {
			node_path(&h->node, path, sizeof(path));
			if (h->node.kind == NODE_REGISTER || h->node.kind == NODE_CELL)
				log_event(fs, req, "read %s -> %.*s", path,
					  (int)h->len - 1, h->text);
			else
				log_event(fs, req, "read %s -> ok", path);
		}
	}
	if (!ret && (size_t)off < h->len) {
		n = size < h->len - (size_t)off ? size : h->len - (size_t)off;
		ret = copy_out(h, (size_t)off, n, small, sizeof(small), &buf);
	}
	pthread_mutex_unlock(&h->lock);
	reply_copy(req, ret, buf, n, small);
}

static void read_reply(fuse_req_t req, struct handle *h, size_t size)
{
	char small[64], *buf = small;
	size_t n;
	int ret;

	pthread_mutex_lock(&h->lock);
	n = h->len - h->cursor;
	if (n > size)
		n = size;
	ret = copy_out(h, h->cursor, n, small, sizeof(small), &buf);
	if (!ret)
		h->cursor += n;
	pthread_mutex_unlock(&h->lock);
	reply_copy(req, ret, buf, n, small);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);

	(void)ino;
	switch (h->node.kind) {
	case NODE_CTL:
		read_reply(req, h, size);
		break;
	case NODE_SHOP:
		read_shop(req, h, size);
		break;
	case NODE_EVENTS:
		read_events(req, h, size, fi->flags);
		break;
	case NODE_QUEUE:
		queuefs_read(req, h, size, fi->flags);
		break;
	default:
		read_snapshot(req, h, size, off);
		break;
	}
}

/* A write to a register or cell: one whole value, as one instruction. */
static void write_value(fuse_req_t req, struct handle *h, const char *buf, size_t size)
{
	struct rwfs *fs = fs_of(req);
	struct isa_insn insn = { .line = 1 };
	struct isa_error err = { 0 };
	char path[32];
	int ret;

	ret = isa_parse_value(buf, size, &insn.src.value);
	if (!ret && h->node.kind == NODE_REGISTER) {
		insn.op = ISA_SET;
		insn.reg = (int)h->node.index;
	} else if (!ret) {
		insn.op = ISA_WRITE;
		insn.reg = -1;
		insn.cell = (int64_t)h->node.index;
	}
	if (!ret)
		ret = state_apply(fs->st, &insn, 1, NULL, NULL, &err);
	if (logging(fs)) {
		char what[40], outcome[ISA_MESSAGE_SIZE + 16];

		node_path(&h->node, path, sizeof(path));
		snprintf(what, sizeof(what), "write %s", path);
		snprintf(outcome, sizeof(outcome), "%s%s", ret ? "error: " : "ok",
			 !ret ? "" : err.errnum ? err.message : strerror(-ret));
		log_outcome(fs, req, what, buf, size, outcome);
	}
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, size);
}

/* Puts the reply of the handle's last request in place of the one before,
 * to be read as a stream from its start. */
static void keep_reply(struct handle *h, char *reply, size_t len)
{
	pthread_mutex_lock(&h->lock);
	free(h->text);
	h->text = reply;
	h->len = len;
	h->cap = len;
	h->cursor = 0;
	pthread_mutex_unlock(&h->lock);
}

/* Runs one shop request and keeps its reply on the handle.  Returns 0 or
 * the -errno for the write (see state_shop_request). */
static int run_request(fuse_req_t req, struct handle *h, const char *buf, size_t size)
{
	struct rwfs *fs = fs_of(req);
	char summary[256];
	char *reply = NULL;
	size_t len = 0;
	int ret;

	ret = state_shop_request(fs->st, buf, size, &reply, &len, summary, sizeof(summary));
	keep_reply(h, reply, len);
	if (logging(fs))
		log_event(fs, req, "shop %s", summary);
	return ret;
}

/* Forgets a login not yet run, wiping its password. */
static void drop_login(struct handle *h)
{
	if (h->login) {
		explicit_bzero(h->login, h->login_len);
		free(h->login);
		h->login = NULL;
	}
}

/* A write to mnt/shop: one request; its reply waits on the handle.  The
 * write fails only when the request could not be understood or its
 * outcome not be saved; a refusal (wrong password, no stock) is the
 * reply's "error ..." line, like a status in a body (see state.h).
 *
 * The kernel holds mnt/shop's inode lock through every write to it, for
 * all clients at once, so a login's deliberately slow password check is
 * not run here but when its reply is read, which holds no such lock. */
static void write_request(fuse_req_t req, struct handle *h, const char *buf, size_t size)
{
	char *login = state_shop_is_login(buf, size) ? malloc(size) : NULL;
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	drop_login(h);
	pthread_mutex_unlock(&h->lock);
	if (login) {
		memcpy(login, buf, size);
		keep_reply(h, NULL, 0);
		pthread_mutex_lock(&h->lock);
		h->login = login;
		h->login_len = size;
		pthread_mutex_unlock(&h->lock);
	} else {
		ret = run_request(req, h, buf, size);
	}
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, size);
}

/* A read of mnt/shop: the reply of the last request, after running the
 * login it may be. */
static void read_shop(fuse_req_t req, struct handle *h, size_t size)
{
	char *login;
	size_t len;

	pthread_mutex_lock(&h->lock);
	login = h->login;
	len = h->login_len;
	h->login = NULL;
	pthread_mutex_unlock(&h->lock);
	if (login) {
		run_request(req, h, login, len);
		explicit_bzero(login, len);
		free(login);
	}
	read_reply(req, h, size);
}

/* A write to mnt/ctl: one batch; its reply waits on the handle. */
static void write_batch(fuse_req_t req, struct handle *h, const char *buf, size_t size)
{
	struct rwfs *fs = fs_of(req);
	struct isa_error err = { 0 };
	char *reply = NULL;
	size_t len = 0;
	int ret;

	ret = state_execute(fs->st, buf, size, &reply, &len, &err);
	keep_reply(h, reply, len);

	if (logging(fs)) {
		char outcome[ISA_MESSAGE_SIZE + 32] = "ok";

		if (ret && err.errnum)
			snprintf(outcome, sizeof(outcome), "error line %u: %s", err.line,
				 err.message);
		else if (ret)
			snprintf(outcome, sizeof(outcome), "error: %s", strerror(-ret));
		log_outcome(fs, req, "ctl", buf, size, outcome);
	}
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, size);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);

	(void)ino;
	(void)off; /* each write() is a whole value, batch or set of items */
	switch (h->node.kind) {
	case NODE_REGISTER:
	case NODE_CELL:
		write_value(req, h, buf, size);
		break;
	case NODE_CTL:
		write_batch(req, h, buf, size);
		break;
	case NODE_QUEUE:
		queuefs_write(req, h, buf, size, fi->flags);
		break;
	case NODE_SHOP:
		write_request(req, h, buf, size);
		break;
	default:
		fuse_reply_err(req, EBADF);
		break;
	}
}

static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	struct rwfs *fs = fs_of(req);
	struct handle *h = handle_of(fi);
	unsigned revents = POLLIN | POLLOUT;

	(void)ino;
	if (h->node.kind == NODE_QUEUE) {
		queuefs_poll(req, h, ph);
		return;
	}
	if (h->node.kind != NODE_EVENTS) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, revents);
		return;
	}
	/* Registered before looking, so an event in between still wakes. */
	waitq_poll(fs->events, h, ph);
	revents = evlog_ready(state_evlog(fs->st), &h->events_cursor) ? POLLIN : 0;
	fuse_reply_poll(req, revents);
}

/* Only queues come and go: the rest of the namespace is fixed. */
static bool in_queues(fuse_req_t req, fuse_ino_t parent)
{
	struct node dir;

	return node_of(req, parent, &dir) == 0 && dir.kind == NODE_QUEUEDIR;
}

/* Makes queue name in parent for mknod and create; on failure it replies
 * the error itself and returns false. */
static bool create_queue(fuse_req_t req, fuse_ino_t parent, const char *name,
			 struct fuse_entry_param *e)
{
	int ret = in_queues(req, parent) ? queuefs_create(req, name, e) : -EPERM;

	if (ret)
		fuse_reply_err(req, -ret);
	return ret == 0;
}

/* touch and mkfifo: both make a queue, which stays a regular file (a FIFO
 * would be served by the kernel, never reaching rwfs). */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	struct fuse_entry_param e;

	(void)rdev;
	if (!(S_ISREG(mode) || S_ISFIFO(mode))) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (!create_queue(req, parent, name, &e))
		return;
	/* The kernel insists the new entry has the type mknod asked for; the
	 * next lookup (entries of queues are never cached) shows the regular
	 * file it really is. */
	e.attr.st_mode = (e.attr.st_mode & ~S_IFMT) | (mode & S_IFMT);
	fuse_reply_entry(req, &e);
}

/* An open with O_CREAT of a name that is not there. */
static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct node node;
	struct handle *h;

	(void)mode;
	if (!create_queue(req, parent, name, &e))
		return;
	node_from_ino(e.ino, 0, &node);
	h = handle_new(fs_of(req), &node);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fuse_reply_create(req, &e, fi);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	fuse_reply_err(req, EPERM);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int ret = in_queues(req, parent) ? queuefs_unlink(req, name) : -EPERM;

	fuse_reply_err(req, -ret);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	fuse_reply_err(req, EPERM);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	fuse_reply_err(req, EPERM);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	(void)link, (void)parent, (void)name;
	fuse_reply_err(req, EPERM);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	fuse_reply_err(req, EPERM);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct node node;

	(void)flags;
	if (node_of(req, ino, &node) != 0 || node.kind != NODE_QUEUE)
		fuse_reply_err(req, ENOTSUP);
	else
		queuefs_setxattr(req, &node, name, value, size);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct node node;

	if (node_of(req, ino, &node) != 0 || node.kind != NODE_QUEUE)
		fuse_reply_err(req, ENODATA);
	else
		queuefs_getxattr(req, &node, name, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	static const char names[] = "user.capacity"; /* with its NUL */
	struct node node;
	size_t len = node_of(req, ino, &node) == 0 && node.kind == NODE_QUEUE ? sizeof(names) : 0;

	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, names, len);
}

const struct fuse_lowlevel_ops rwfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readdir = op_readdir,
	.open = op_open,
	.release = op_release,
	.read = op_read,
	.write = op_write,
	.poll = op_poll,
	.mknod = op_mknod,
	.create = op_create,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.symlink = op_symlink,
	.link = op_link,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
};

struct rwfs *rwfs_new(struct state *st)
{
	struct rwfs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->st = st;
	fs->events = waitq_new(events_try, events_end);
	if (!fs->events || pthread_mutex_init(&fs->handles_lock, NULL)) {
		waitq_free(fs->events);
		free(fs);
		return NULL;
	}
	clock_gettime(CLOCK_REALTIME, &fs->mounted);
	evlog_set_notify(state_evlog(st), events_appended, fs);
	return fs;
}

void rwfs_free(struct rwfs *fs)
{
	if (!fs)
		return;
	evlog_set_notify(state_evlog(fs->st), NULL, NULL);
	while (fs->handles) {
		struct handle *h = fs->handles;

		fs->handles = h->next;
		handle_free(fs, h);
	}
	/* Parked requests only point at their handles; they get EOF. */
	waitq_free(fs->events);
	queuefs_free(fs);
	pthread_mutex_destroy(&fs->handles_lock);
	free(fs);
}
