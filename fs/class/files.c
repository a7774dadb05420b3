/* files.c - mnt/files/ and everything in it: shared files and directories
 * whose every change is a record of the engine (state.h, files.h).
 *
 * A node's index is its id in the tree (files/ itself: FILES_ROOT), so its
 * inode number stays the same across a rename.  files/ is a fixed node of
 * the root (a low number); what is in it is numbered from 1 << 40.
 *
 * Files are opened with direct I/O: every read comes here and is served
 * under the shared lock, whole up to the largest read the kernel sends,
 * and stat always shows the exact size.  An open with O_TRUNC truncates
 * nothing yet: its first write replaces the content (FILE_REPLACE), or
 * its close empties the file if nothing was written, so no reader sees
 * `echo x > f` leave the file empty.  A write with O_APPEND goes to the end
 * as the log orders it, so appenders never overwrite each other.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "class.h"

#define FILES_INO_BASE (1ull << 40)

static const struct node_class *class_of(uint64_t id)
{
	return id == FILES_ROOT ? &files_root_class : &files_class;
}

static mode_t type_mode(enum files_type type)
{
	return type == FILES_DIR ? S_IFDIR : S_IFREG;
}

static struct timespec timespec_of(int64_t ns)
{
	return (struct timespec){ .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
}

static int getattr(struct rwfs *fs, const struct node *node, struct stat *st)
{
	struct files_attr a;
	int ret = state_file_attr(fs->st, node->index, &a);

	if (ret)
		return ret;
	/* files/ itself is the class's: sticky and open to all, the daemon's */
	if (node->index != FILES_ROOT) {
		st->st_mode = type_mode(a.type) | a.mode;
		owner_show(st, a.uid, a.gid);
	}
	st->st_nlink = a.nlink;
	st->st_size = (off_t)a.size;
	st->st_blocks = (blkcnt_t)((a.size + 511) / 512);
	st->st_mtim = st->st_atim = timespec_of(a.mtime_ns);
	st->st_ctim = timespec_of(a.ctime_ns);
	/* files/ itself has no times before its first change */
	if (node->index == FILES_ROOT && !a.ctime_ns)
		st->st_mtim = st->st_atim = st->st_ctim = fs->mounted;
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t ns_of(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Which of chmod and chown of node the client of req may make, as
 * FILES_SET_* bits of what to propose, and the owner to set (*uid, *gid):
 * 0 or -EPERM.  files/ itself keeps its mode and owner (ops.c refuses
 * them); a chown to the owner a node has changes nothing (cp -p, sed -i
 * ask for it). */
static int owner_change(fuse_req_t req, const struct node *node, const struct stat *attr,
			int *to_set, unsigned *what, uint32_t *uid, uint32_t *gid)
{
	int owner_bits = *to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID);
	struct files_attr a;
	int ret;

	if (node->index == FILES_ROOT || !(owner_bits || (*to_set & FUSE_SET_ATTR_MODE)))
		return 0;
	ret = state_file_attr(fs_of(req)->st, node->index, &a);
	if (ret)
		return ret;
	if ((*to_set & FUSE_SET_ATTR_MODE) && !owner_may_chmod(req, a.uid))
		return -EPERM;
	if (owner_bits && !owner_may_chown(req, a.uid, a.gid, attr, *to_set))
		return -EPERM;
	if (*to_set & FUSE_SET_ATTR_MODE)
		*what |= FILES_SET_MODE;
	if (owner_bits && fuse_req_ctx(req)->uid == 0)
		*what |= FILES_SET_OWNER;
	*uid = owner_bits & FUSE_SET_ATTR_UID ? (uint32_t)attr->st_uid : a.uid;
	*gid = owner_bits & FUSE_SET_ATTR_GID ? (uint32_t)attr->st_gid : a.gid;
	*to_set &= ~(FUSE_SET_ATTR_MODE | owner_bits);
	return 0;
}

/* Access times are not kept. */
static int setattr(fuse_req_t req, struct node *node, const struct stat *attr, int *to_set)
{
	struct rwfs *fs = fs_of(req);
	uint32_t uid = 0, gid = 0;
	unsigned what = 0;
	int64_t mtime = 0;
	int ret = owner_change(req, node, attr, to_set, &what, &uid, &gid);

	if (!ret && (*to_set & FUSE_SET_ATTR_SIZE))
		ret = state_file_truncate(fs->st, node->index, (uint64_t)attr->st_size,
					  client_pid(req));
	if (*to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		what |= FILES_SET_MTIME;
		mtime = *to_set & FUSE_SET_ATTR_MTIME_NOW ? now_ns() : ns_of(&attr->st_mtim);
	}
	if (!ret && what)
		ret = state_file_setattr(fs->st, node->index, what,
					 attr->st_mode & FILES_MODE_MASK, uid, gid, mtime,
					 client_pid(req));
	*to_set &= ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW |
		     FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_CTIME);
	return ret;
}

static int enter(struct rwfs *fs, struct node *dir, const char *name, uint64_t id,
		 struct node **child)
{
	*child = node_enter(fs->nodes, class_of(id), id, dir, name);
	return *child ? 0 : -ENOMEM;
}

static int lookup(struct rwfs *fs, struct node *dir, const char *name, struct node **child)
{
	uint64_t id;
	int ret = state_file_lookup(fs->st, dir->index, name, strlen(name), &id, NULL);

	return ret ? ret : enter(fs, dir, name, id, child);
}

/* The entries of a listing from the skip-th on, as many as fit. */
struct listing {
	fuse_req_t req;
	char *buf;
	size_t size, used, skip;
	off_t off;
};

static int list_entry(void *arg, const char *name, size_t len, uint64_t id,
		      enum files_type type)
{
	struct listing *l = arg;
	size_t need;

	(void)len;
	if (l->skip) {
		l->skip--;
		return 0;
	}
	need = text_add_direntry(l->req, l->buf + l->used, l->size - l->used, name,
				 FILES_INO_BASE + id, type_mode(type), l->off);
	if (!need)
		return 1;
	l->used += need;
	l->off++;
	return 0;
}

static size_t readdir(fuse_req_t req, struct node *dir, size_t i, off_t off, char *buf,
		      size_t size)
{
	struct listing l = { req, buf, size, 0, i, off };

	state_file_readdir(fs_of(req)->st, dir->index, NULL, 0, list_entry, &l);
	return l.used;
}

static int make(fuse_req_t req, struct node *dir, const char *name, mode_t mode, bool is_dir,
		struct node **child)
{
	struct rwfs *fs = fs_of(req);
	uint32_t uid, gid;
	uint64_t id;
	int ret;

	owner_of_caller(req, &uid, &gid);
	ret = state_file_create(fs->st, dir->index, name, strlen(name), is_dir,
				mode & FILES_MODE_MASK, uid, gid, client_pid(req), &id);
	return ret ? ret : enter(fs, dir, name, id, child);
}

/* The sticky rule for the entry name of dir: 0, -EPERM, or -ENOENT (and
 * *exists false) when there is no such entry.  files/ itself is sticky and
 * the daemon's whatever the state says (getattr). */
static int may_remove(fuse_req_t req, const struct node *dir, const char *name,
		      bool *exists)
{
	struct state *st = fs_of(req)->st;
	struct files_attr d, e;
	uint64_t id;
	int ret = state_file_attr(st, dir->index, &d);

	*exists = false;
	if (!ret)
		ret = state_file_lookup(st, dir->index, name, strlen(name), &id, &e);
	if (ret)
		return ret;
	*exists = true;
	if (dir->index == FILES_ROOT) {
		d.mode = files_root_class.mode;
		d.uid = FILES_OWNER_DAEMON;
	}
	return owner_may_remove(req, d.mode, d.uid, e.uid) ? 0 : -EPERM;
}

static int create(fuse_req_t req, struct node *dir, const char *name, mode_t mode,
		  struct node **child)
{
	return make(req, dir, name, mode, false, child);
}

static int mkdir_child(fuse_req_t req, struct node *dir, const char *name, mode_t mode,
		       struct node **child)
{
	return make(req, dir, name, mode, true, child);
}

static int remove_child(fuse_req_t req, struct node *dir, const char *name, bool is_dir)
{
	bool exists;
	int ret = may_remove(req, dir, name, &exists);

	return ret ? ret : state_file_unlink(fs_of(req)->st, dir->index, name, strlen(name),
					     is_dir, client_pid(req));
}

static int unlink_child(fuse_req_t req, struct node *dir, const char *name)
{
	return remove_child(req, dir, name, false);
}

static int rmdir_child(fuse_req_t req, struct node *dir, const char *name)
{
	return remove_child(req, dir, name, true);
}

/* RENAME_EXCHANGE and RENAME_WHITEOUT are not supported. */
static int rename_child(fuse_req_t req, struct node *dir, const char *name,
			struct node *new_dir, const char *new_name, unsigned flags)
{
	bool exists;
	int ret;

	if (flags & ~FILES_RENAME_NOREPLACE)
		return -EINVAL;
	/* The sticky rule holds for the name moved and for one replaced. */
	ret = may_remove(req, dir, name, &exists);
	if (!ret) {
		ret = may_remove(req, new_dir, new_name, &exists);
		if (!exists && ret == -ENOENT)
			ret = 0;
	}
	if (ret)
		return ret;
	return state_file_rename(fs_of(req)->st, dir->index, name, strlen(name),
				 new_dir->index, new_name, strlen(new_name), flags,
				 client_pid(req));
}

/* The node stays pinned while the handle is open: readable after an
 * unlink or a rename over it. */
static int open_file(struct rwfs *fs, struct handle *h)
{
	struct files_attr a;
	int ret = state_file_attr(fs->st, h->node->index, &a);

	if (ret)
		return ret;
	if (a.type == FILES_DIR)
		return -EISDIR;
	ret = state_file_pin(fs->st, h->node->index);
	if (ret)
		return ret;
	h->pinned = true;
	h->truncate_pending = (h->flags & O_TRUNC) && (h->flags & O_ACCMODE) != O_RDONLY &&
			      a.size > 0;
	return 0;
}

/* The last close of a handle with its O_TRUNC still pending empties the
 * file.  Not at a flush: a shell opens, dups and closes the first
 * descriptor before it writes through the second. */
static void release_file(struct rwfs *fs, struct handle *h)
{
	if (h->truncate_pending)
		state_file_truncate(fs->st, h->node->index, 0, 0);
	if (h->pinned)
		state_file_unpin(fs->st, h->node->index);
}

static void read_file(fuse_req_t req, struct handle *h, size_t size, off_t off, int flags)
{
	char *buf = malloc(size ? size : 1);
	ssize_t n;

	(void)flags;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = state_catch_up(fs_of(req)->st);
	if (!n)
		n = state_file_read(fs_of(req)->st, h->node->index, (uint64_t)off, buf, size);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

/* The first write after an O_TRUNC at offset 0 replaces the content in one
 * record; at another offset (a sparse copy) the file is emptied first. */
static int write_pending(fuse_req_t req, struct handle *h, const char *buf, size_t size,
			 off_t off)
{
	struct state *st = fs_of(req)->st;
	uint64_t id = h->node->index;
	int ret;

	h->truncate_pending = false;
	if (off == 0)
		return state_file_replace(st, id, buf, size, client_pid(req));
	ret = state_file_truncate(st, id, 0, client_pid(req));
	return ret ? ret : state_file_write(st, id, (uint64_t)off, buf, size, client_pid(req));
}

static void write_file(fuse_req_t req, struct handle *h, const char *buf, size_t size,
		       off_t off, int flags)
{
	struct state *st = fs_of(req)->st;
	uint64_t id = h->node->index, at;
	int ret;

	pthread_mutex_lock(&h->lock);
	if (flags & O_APPEND)
		ret = state_file_append(st, id, buf, size, client_pid(req), &at);
	else if (h->truncate_pending)
		ret = write_pending(req, h, buf, size, off);
	else
		ret = state_file_write(st, id, (uint64_t)off, buf, size, client_pid(req));
	pthread_mutex_unlock(&h->lock);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, size);
}

#define FILES_OPS                                    \
	.getattr = getattr,                          \
	.setattr = setattr,                          \
	.lookup = lookup,                            \
	.readdir = readdir,                          \
	.create = create,                            \
	.unlink = unlink_child,                      \
	.mkdir = mkdir_child,                        \
	.rmdir = rmdir_child,                        \
	.rename = rename_child

/* Sticky and open to all, as /tmp. */
const struct node_class files_root_class = {
	.ino_base = 36,
	.mode = S_IFDIR | 01777,
	.entry_timeout = 86400.0,
	FILES_OPS,
};

/* Names may change under the kernel's eyes (other mounts of a cluster):
 * it keeps none. */
const struct node_class files_class = {
	.ino_base = FILES_INO_BASE,
	.mode = S_IFREG | 0644,
	.entry_timeout = 0.0,
	.open_flags = FOPEN_DIRECT_IO,
	FILES_OPS,
	.open = open_file,
	.release = release_file,
	.read = read_file,
	.write = write_file,
};
