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

#include "nodes.h"
#include "ops.h"
#include "wait.h"

/* Names never change, so the kernel may keep them; attributes change with
 * every write, so it may not. */
#define ENTRY_TIMEOUT 86400.0
#define ATTR_TIMEOUT 0.0
#define EVENTS_CHUNK 16384 /* most bytes of events one read returns */
#define QUOTE_MAX 64       /* most bytes of written text the log shows */

struct rwfs {
	struct state *st;
	struct waitq *events; /* parked readers of mnt/events */
	struct timespec mounted;
	pthread_mutex_t handles_lock;
	struct handle *handles; /* under handles_lock: every open file */
};

/* The kernel sends no release for files still open when the session ends,
 * so every handle is also on the fs's list, to be freed at shutdown. */
struct handle {
	struct handle *prev, *next; /* under fs->handles_lock */
	struct node node;
	pthread_mutex_t lock;
	char *text;             /* under lock: snapshot, or the ctl reply */
	size_t len;             /* under lock */
	size_t cap;             /* under lock */
	size_t cursor;          /* under lock: next reply byte of mnt/ctl */
	struct evlog_cursor events_cursor; /* under the event log's lock */
};

static struct rwfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct handle *handle_of(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

/* --- the event log ------------------------------------------------------ */

/* The command name of pid, as ps shows it, or "?" when it is gone. */
static void command_name(pid_t pid, char *buf, size_t size)
{
	char path[32];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, size - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(buf, size, "?");
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static bool logging(struct rwfs *fs)
{
	return evlog_wanted(state_evlog(fs->st));
}

/* Appends "pid N (comm) MESSAGE" for the client of req. */
static void log_event(struct rwfs *fs, fuse_req_t req, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void log_event(struct rwfs *fs, fuse_req_t req, const char *fmt, ...)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char comm[32], message[EVLOG_LINE_MAX];
	va_list ap;

	command_name(ctx->pid, comm, sizeof(comm));
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	evlog_append(state_evlog(fs->st), "pid %d (%s) %s", (int)ctx->pid, comm, message);
}

/* Writes text as a C-like quoted string, cut after QUOTE_MAX bytes. */
static void quote(const char *text, size_t len, char *out, size_t size)
{
	size_t o = 0;

	out[o++] = '"';
	for (size_t i = 0; i < len && i < QUOTE_MAX && o + 6 < size; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n' && i + 1 == len)
			break;
		if (c == '\n')
			o += (size_t)snprintf(out + o, size - o, "\\n");
		else if (c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (len > QUOTE_MAX && o + 4 < size)
		o += (size_t)snprintf(out + o, size - o, "...");
	snprintf(out + o, size - o, "\"");
}

/* Logs "WHAT "TEXT" -> OUTCOME". */
static void log_outcome(struct rwfs *fs, fuse_req_t req, const char *what,
			const char *text, size_t len, const char *outcome)
{
	char quoted[QUOTE_MAX * 4 + 8];

	quote(text, len, quoted, sizeof(quoted));
	log_event(fs, req, "%s %s -> %s", what, quoted, outcome);
}

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
		return state_format_stats(fs->st, buf, size);
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
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	fill_attr(fs_of(req), &node, &st);
	fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

/* A truncate of a value file or of ctl changes nothing: a value is only
 * ever replaced whole by a write.  Times are accepted (touch works) and
 * ignored; owners and modes are fixed. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct node node;
	int ret;

	(void)attr;
	ret = node_of(req, ino, &node);
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
		struct stat st = { 0 };
		size_t need;

		if (i == 0 || i == 1) {
			snprintf(name, sizeof(name), i == 0 ? "." : "..");
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

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rwfs *fs = fs_of(req);
	struct handle *h;
	struct node node;
	int ret;

	ret = node_of(req, ino, &node);
	if (!ret && S_ISDIR(node_mode(&node)))
		ret = -EISDIR;
	if (!ret && (fi->flags & O_ACCMODE) != O_RDONLY && !(node_mode(&node) & 0222))
		ret = -EACCES;
	h = ret ? NULL : calloc(1, sizeof(*h));
	if (!ret && !h)
		ret = -ENOMEM;
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	h->node = node;
	pthread_mutex_init(&h->lock, NULL);
	if (node.kind == NODE_EVENTS) {
		evlog_subscribe(state_evlog(fs->st));
		h->events_cursor = evlog_tail(state_evlog(fs->st));
	}
	pthread_mutex_lock(&fs->handles_lock);
	h->next = fs->handles;
	if (h->next)
		h->next->prev = h;
	fs->handles = h;
	pthread_mutex_unlock(&fs->handles_lock);
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	fi->nonseekable = node.kind == NODE_CTL || node.kind == NODE_EVENTS;
	fuse_reply_open(req, fi);
}

static void handle_free(struct rwfs *fs, struct handle *h)
{
	if (h->node.kind == NODE_EVENTS) {
		waitq_forget(fs->events, h);
		evlog_unsubscribe(state_evlog(fs->st));
	}
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
	case NODE_EVENTS:
		read_events(req, h, size, fi->flags);
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

/* A write to mnt/ctl: one batch; its reply waits on the handle. */
static void write_batch(fuse_req_t req, struct handle *h, const char *buf, size_t size)
{
	struct rwfs *fs = fs_of(req);
	struct isa_error err = { 0 };
	char *reply = NULL;
	size_t len = 0;
	int ret;

	ret = state_execute(fs->st, buf, size, &reply, &len, &err);
	pthread_mutex_lock(&h->lock);
	free(h->text);
	h->text = reply;
	h->len = len;
	h->cap = len;
	h->cursor = 0;
	pthread_mutex_unlock(&h->lock);

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
	(void)off; /* each write() is a whole value or batch, as in sysfs */
	switch (h->node.kind) {
	case NODE_REGISTER:
	case NODE_CELL:
		write_value(req, h, buf, size);
		break;
	case NODE_CTL:
		write_batch(req, h, buf, size);
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

/* The namespace is fixed: nothing can be created, removed or renamed. */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	fuse_reply_err(req, EPERM);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	(void)fi;
	op_mknod(req, parent, name, mode, 0);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	op_mknod(req, parent, name, mode, 0);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	op_mknod(req, parent, name, 0, 0);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	(void)newparent, (void)newname, (void)flags;
	op_mknod(req, parent, name, 0, 0);
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
	.rmdir = op_unlink,
	.rename = op_rename,
};

struct rwfs *rwfs_new(struct state *st)
{
	struct rwfs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->st = st;
	fs->events = waitq_new(events_try);
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
	pthread_mutex_destroy(&fs->handles_lock);
	free(fs);
}
