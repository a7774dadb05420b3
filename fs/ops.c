/* ops.c - the fuse_lowlevel_ops table of rwfs.  See ops.h.
 *
 * Each operation decodes its inode, finds its node (node.h) and calls the
 * node's class (class/class.h); what a class leaves out gets the answer
 * written beside the call.  An open file is a struct handle in fi->fh,
 * holding its node.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "class/class.h"
#include "fs.h"
#include "locks.h"

#define MAX_WRITE (1u << 20)

/* --- attributes and entries ----------------------------------------------- */

static int fill_attr(struct rwfs *fs, const struct node *node, struct stat *st)
{
	const struct node_class *class = node->class;

	memset(st, 0, sizeof(*st));
	st->st_ino = node->ino;
	st->st_mode = class->mode;
	st->st_nlink = S_ISDIR(class->mode) ? 2 : 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	if (class->format)
		st->st_size = class->format(fs, node, NULL, 0);
	st->st_atim = st->st_mtim = st->st_ctim = fs->mounted;
	return class->getattr ? class->getattr(fs, node, st) : 0;
}

/* Fills e for node, just entered (its lookup counted): 0, or -errno with
 * the count given back. */
static int fill_entry(struct rwfs *fs, struct node *node, struct fuse_entry_param *e)
{
	int ret;

	memset(e, 0, sizeof(*e));
	e->ino = node->ino;
	e->entry_timeout = node->class->entry_timeout;
	e->attr_timeout = ATTR_TIMEOUT;
	ret = fill_attr(fs, node, &e->attr);
	if (ret)
		node_forget(fs->nodes, node->ino, 1);
	return ret;
}

/* A reply that carried an entry but never reached the kernel counts no
 * lookup. */
static void entry_sent(struct rwfs *fs, struct node *node, int reply_ret)
{
	if (reply_ret != 0)
		node_forget(fs->nodes, node->ino, 1);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* `echo 5 > mnt/A` must be one update: with this the kernel passes
	 * O_TRUNC to open instead of sending a separate truncate to 0. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* A read or write of a shared file up to 1 MiB (page-aligned) is one
	 * request, so one version: libfuse asks the kernel for max_pages to
	 * match. */
	conn->max_write = MAX_WRITE;
	/* Tickets: flock and fcntl locks come to the daemon (locks.c). */
	conn->want |= conn->capable & (FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct rwfs *fs = fs_of(req);
	struct node *dir = node_get(fs->nodes, parent), *child = NULL;
	struct fuse_entry_param e;
	int ret = !dir ? -ENOENT : !dir->class->lookup ? -ENOTDIR
			       : dir->class->lookup(fs, dir, name, &child);

	if (!ret)
		ret = fill_entry(fs, child, &e);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		entry_sent(fs, child, fuse_reply_entry(req, &e));
	node_put(fs->nodes, dir);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(fs_of(req)->nodes, ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		node_forget(fs_of(req)->nodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rwfs *fs = fs_of(req);
	struct node *node = node_get(fs->nodes, ino);
	struct stat st;
	int ret = node ? fill_attr(fs, node, &st) : -ENOENT;

	(void)fi;
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, ATTR_TIMEOUT);
	node_put(fs->nodes, node);
}

/* A truncate changes nothing: a value is only ever replaced whole by a
 * write, and items are only taken by reads.  Times are accepted (touch
 * works) and ignored; owners and modes are fixed, but for what a class
 * takes itself (queues and shared files: owner.c says who may). */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct rwfs *fs = fs_of(req);
	struct node *node = node_get(fs->nodes, ino);
	int ret = !node ? -ENOENT : node->class->setattr
					    ? node->class->setattr(req, node, attr, &to_set) : 0;

	if (!ret && (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		ret = -EPERM;
	if (!ret && (to_set & FUSE_SET_ATTR_SIZE) && !(node->class->mode & 0222))
		ret = -EACCES;
	node_put(fs->nodes, node);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		op_getattr(req, ino, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct rwfs *fs = fs_of(req);
	struct node *dir = node_get(fs->nodes, ino);
	size_t used = 0, need;
	char *buf = NULL;
	int ret = !dir ? -ENOENT : !dir->class->readdir ? -ENOTDIR : 0;

	(void)fi;
	if (!ret) {
		buf = malloc(size);
		ret = buf ? 0 : -ENOMEM;
	}
	if (ret) {
		fuse_reply_err(req, -ret);
		node_put(fs->nodes, dir);
		return;
	}
	/* Offsets 0 and 1 are "." and "..", then the children in order; ls
	 * skips entries without an inode number. */
	for (; off < 2; off++) {
		need = text_add_direntry(req, buf + used, size - used, off == 0 ? "." : "..",
					 off == 0 ? ino : FUSE_ROOT_ID, S_IFDIR, off + 1);
		if (!need)
			break;
		used += need;
	}
	if (off >= 2)
		used += dir->class->readdir(req, dir, (size_t)off - 2, off + 1, buf + used,
					    size - used);
	fuse_reply_buf(req, buf, used);
	free(buf);
	node_put(fs->nodes, dir);
}

/* --- open files --------------------------------------------------------------- */

/* A new handle on node, held, on the fs's list.  NULL when out of memory. */
static struct handle *handle_new(struct rwfs *fs, struct node *node)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->node = node;
	node_hold(fs->nodes, node);
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_lock(&fs->handles_lock);
	h->next = fs->handles;
	if (h->next)
		h->next->prev = h;
	fs->handles = h;
	pthread_mutex_unlock(&fs->handles_lock);
	return h;
}

/* Takes h off the fs's list. */
static void handle_unlink(struct rwfs *fs, struct handle *h)
{
	pthread_mutex_lock(&fs->handles_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		fs->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&fs->handles_lock);
}

/* Frees h (off the list), after its class let go of it. */
static void handle_free(struct rwfs *fs, struct handle *h)
{
	if (h->node->class->release)
		h->node->class->release(fs, h);
	node_put(fs->nodes, h->node);
	pthread_mutex_destroy(&h->lock);
	free(h->text);
	free(h);
}

/* A new handle for an open of node with flags: 0 and *h, or -errno. */
static int open_handle(struct rwfs *fs, struct node *node, int flags, struct handle **h)
{
	const struct node_class *class = node->class;
	int ret = 0;

	if (!class->read)
		return S_ISDIR(class->mode) ? -EISDIR : -EACCES;
	if ((flags & O_ACCMODE) != O_RDONLY && !(class->mode & 0222))
		return -EACCES;
	*h = handle_new(fs, node);
	if (!*h)
		return -ENOMEM;
	(*h)->flags = flags;
	if (class->open)
		ret = class->open(fs, *h);
	if (ret) {
		handle_unlink(fs, *h);
		handle_free(fs, *h);
	}
	return ret;
}

/* libfuse 3.14's fuse_file_info has no bit for every FOPEN_* flag the
 * kernel knows (FOPEN_PARALLEL_DIRECT_WRITES), so the reply is built here
 * as fuse_reply_open builds it, with the class's flags. */
static void fill_open(struct fuse_open_out *out, struct handle *h)
{
	memset(out, 0, sizeof(*out));
	out->fh = (uintptr_t)h;
	out->open_flags = h->node->class->open_flags;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rwfs *fs = fs_of(req);
	struct node *node = node_get(fs->nodes, ino);
	struct handle *h = NULL;
	struct fuse_open_out out;
	struct iovec iov = { &out, sizeof(out) };
	int ret = node ? open_handle(fs, node, fi->flags, &h) : -ENOENT;

	node_put(fs->nodes, node);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	fill_open(&out, h);
	/* A reply that fails means the open was interrupted: the kernel
	 * then sends no release. */
	if (fuse_reply_iov(req, &iov, 1) != 0) {
		handle_unlink(fs, h);
		handle_free(fs, h);
	}
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rwfs *fs = fs_of(req);
	struct handle *h = handle_of(fi);

	if (fi->flock_release)
		locks_close(req, ino, fi, false);
	handle_unlink(fs, h);
	handle_free(fs, h);
	fuse_reply_err(req, 0);
}

/* Every close(): POSIX locks go with any close of the file by their owner. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, -locks_close(req, ino, fi, true));
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);

	(void)ino;
	h->node->class->read(req, h, size, off, fi->flags);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);

	(void)ino;
	if (h->node->class->write)
		h->node->class->write(req, h, buf, size, off, fi->flags);
	else
		fuse_reply_err(req, EBADF);
}

static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	struct handle *h = handle_of(fi);

	(void)ino;
	if (h->node->class->poll) {
		h->node->class->poll(req, h, ph);
		return;
	}
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, POLLIN | POLLOUT);
}

/* --- making and removing names ------------------------------------------------ */

/* Makes name in parent for mknod and create: 0 with the child entered and
 * e filled, or -errno. */
static int create_child(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			struct node **child, struct fuse_entry_param *e)
{
	struct rwfs *fs = fs_of(req);
	struct node *dir = node_get(fs->nodes, parent);
	int ret = dir && dir->class->create ? dir->class->create(req, dir, name, mode, child)
					    : -EPERM;

	node_put(fs->nodes, dir);
	return ret ? ret : fill_entry(fs, *child, e);
}

/* touch and mkfifo: both make a queue, which stays a regular file (a FIFO
 * would be served by the kernel, never reaching rwfs). */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	struct rwfs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct node *child;
	int ret = S_ISREG(mode) || S_ISFIFO(mode) ? create_child(req, parent, name, mode,
								    &child, &e)
						  : -EPERM;

	(void)rdev;
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	/* The kernel insists the new entry has the type mknod asked for; the
	 * next lookup (entries of queues are never cached) shows the regular
	 * file it really is. */
	e.attr.st_mode = (e.attr.st_mode & ~S_IFMT) | (mode & S_IFMT);
	entry_sent(fs, child, fuse_reply_entry(req, &e));
}

/* The parts of the reply to create, built as fuse_reply_create does, for
 * the open flags (see fill_open). */
static void fill_entry_out(struct fuse_entry_out *out, const struct fuse_entry_param *e)
{
	const struct stat *st = &e->attr;

	memset(out, 0, sizeof(*out));
	out->nodeid = e->ino;
	out->entry_valid = (uint64_t)e->entry_timeout;
	out->attr_valid = (uint64_t)e->attr_timeout;
	out->attr = (struct fuse_attr){
		.ino = st->st_ino, .mode = st->st_mode, .nlink = (uint32_t)st->st_nlink,
		.uid = st->st_uid, .gid = st->st_gid, .size = (uint64_t)st->st_size,
		.atime = (uint64_t)st->st_atim.tv_sec, .atimensec = (uint32_t)st->st_atim.tv_nsec,
		.mtime = (uint64_t)st->st_mtim.tv_sec, .mtimensec = (uint32_t)st->st_mtim.tv_nsec,
		.ctime = (uint64_t)st->st_ctim.tv_sec, .ctimensec = (uint32_t)st->st_ctim.tv_nsec,
	};
}

/* An open with O_CREAT of a name that is not there. */
static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct rwfs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct fuse_entry_out entry;
	struct fuse_open_out open;
	struct iovec iov[2] = { { &entry, sizeof(entry) }, { &open, sizeof(open) } };
	struct handle *h = NULL;
	struct node *child;
	int ret = create_child(req, parent, name, mode, &child, &e);

	if (!ret) {
		ret = open_handle(fs, child, fi->flags, &h);
		if (ret)
			node_forget(fs->nodes, child->ino, 1);
	}
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	fill_entry_out(&entry, &e);
	fill_open(&open, h);
	if (fuse_reply_iov(req, iov, 2) != 0) {
		node_forget(fs->nodes, child->ino, 1);
		handle_unlink(fs, h);
		handle_free(fs, h);
	}
}

/* unlink and rmdir: the parent's class removes name, or EPERM. */
static void remove_child(fuse_req_t req, fuse_ino_t parent, const char *name, bool is_dir)
{
	struct rwfs *fs = fs_of(req);
	struct node *dir = node_get(fs->nodes, parent);
	int (*remove)(fuse_req_t, struct node *, const char *) =
		!dir ? NULL : is_dir ? dir->class->rmdir : dir->class->unlink;
	int ret = remove ? remove(req, dir, name) : -EPERM;

	node_put(fs->nodes, dir);
	fuse_reply_err(req, -ret);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_child(req, parent, name, false);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct rwfs *fs = fs_of(req);
	struct node *dir = node_get(fs->nodes, parent), *child;
	struct fuse_entry_param e;
	int ret = dir && dir->class->mkdir ? dir->class->mkdir(req, dir, name, mode, &child)
					   : -EPERM;

	node_put(fs->nodes, dir);
	if (!ret)
		ret = fill_entry(fs, child, &e);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		entry_sent(fs, child, fuse_reply_entry(req, &e));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_child(req, parent, name, true);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct rwfs *fs = fs_of(req);
	struct node *dir = node_get(fs->nodes, parent);
	struct node *new_dir = node_get(fs->nodes, newparent);
	int ret = !dir || !new_dir ? -ENOENT : !dir->class->rename ? -EPERM
		  : new_dir->class->rename != dir->class->rename ? -EXDEV
		  : dir->class->rename(req, dir, name, new_dir, newname, flags);

	node_put(fs->nodes, new_dir);
	node_put(fs->nodes, dir);
	fuse_reply_err(req, -ret);
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

/* --- extended attributes ------------------------------------------------------ */

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct rwfs *fs = fs_of(req);
	struct node *node = node_get(fs->nodes, ino);
	int ret = node && node->class->setxattr
			  ? node->class->setxattr(req, node, name, value, size) : -ENOTSUP;

	(void)flags;
	node_put(fs->nodes, node);
	fuse_reply_err(req, -ret);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct rwfs *fs = fs_of(req);
	struct node *node = node_get(fs->nodes, ino);

	if (node && node->class->getxattr)
		node->class->getxattr(req, node, name, size);
	else
		fuse_reply_err(req, ENODATA);
	node_put(fs->nodes, node);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct rwfs *fs = fs_of(req);
	struct node *node = node_get(fs->nodes, ino);
	size_t len = node ? node->class->xattrs_size : 0;

	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, len ? node->class->xattrs : NULL, len);
	node_put(fs->nodes, node);
}

const struct fuse_lowlevel_ops rwfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readdir = op_readdir,
	.open = op_open,
	.release = op_release,
	.flush = op_flush,
	.flock = locks_flock,
	.getlk = locks_getlk,
	.setlk = locks_setlk,
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
	fs->nodes = node_table_new();
	if (!fs->nodes)
		goto out_free;
	if (pthread_mutex_init(&fs->handles_lock, NULL))
		goto out_nodes;
	fs->locks = locks_new();
	if (!fs->locks)
		goto out_mutex;
	if (events_class_init(fs))
		goto out_locks;
	clock_gettime(CLOCK_REALTIME, &fs->mounted);
	/* Parked readers and writers wake on the change itself, wherever it
	 * was made. */
	state_observe(st, queue_class_changed, fs);
	state_observe_tickets(st, locks_ticket_left, fs);
	return fs;

out_locks:
	locks_free(fs->locks);
out_mutex:
	pthread_mutex_destroy(&fs->handles_lock);
out_nodes:
	node_table_free(fs->nodes);
out_free:
	free(fs);
	return NULL;
}

void rwfs_free(struct rwfs *fs)
{
	if (!fs)
		return;
	state_observe(fs->st, NULL, NULL);
	state_observe_tickets(fs->st, NULL, NULL);
	locks_free(fs->locks);
	while (fs->handles) {
		struct handle *h = fs->handles;

		fs->handles = h->next;
		handle_free(fs, h);
	}
	events_class_free(fs);
	/* Parked queue requests end with the nodes holding them. */
	node_table_free(fs->nodes);
	pthread_mutex_destroy(&fs->handles_lock);
	free(fs);
}
