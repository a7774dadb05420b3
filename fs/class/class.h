/* class.h - node classes: what each kind of file does with each operation.
 *
 * Every node (node.h) points at one const class.  ops.c decodes a request,
 * finds its node and calls the class's operation; an operation a class
 * leaves NULL gets the answer ops.c documents beside it (a read-only file
 * has no write, a file no lookup, and so on).  Nothing outside the class
 * files looks at what kind a file is.
 *
 *   value.c    registers A..Z and cells mem/N: snapshot read, whole-value write
 *   text.c     registers, stats, inventory: read-only snapshots; the text
 *              helpers the other classes share
 *   ctl.c      the instruction file
 *   shop.c     the shop's conversation file
 *   events.c   the event stream
 *   dir.c      the root and mem/
 *   queues.c   the queues/ directory: make, remove, list, seal by name
 *   queue.c    one queue: parked readers and writers, poll, its attributes
 *   files.c    files/ and everything in it: shared files and directories
 *   owner.c    owners and modes of queues and shared files: who may change them
 */
#ifndef RWFS_CLASS_H
#define RWFS_CLASS_H

#include <linux/fuse.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../fs.h"

struct node_class {
	uint64_t ino_base; /* a node's inode number is this plus its index */
	mode_t mode;       /* type and permissions; open checks writes on it */
	double entry_timeout; /* how long the kernel may keep the name */
	uint32_t open_flags;  /* FOPEN_* flags of its open files */
	const char *xattrs;   /* listxattr: the names, each with its NUL */
	size_t xattrs_size;

	/* Makes and frees node->priv, under the table lock: 0 or -ENOMEM.
	 * Without init, priv stays NULL. */
	int (*init)(struct node *node);
	void (*release_node)(struct node *node);

	/* The file's text, like snprintf: the length it needs.  A class with
	 * format and no getattr reports that length as st_size. */
	int (*format)(struct rwfs *fs, const struct node *node, char *buf, size_t size);

	/* Refines st (ops.c filled ino, mode from the class, owner, times;
	 * size from format): 0 or -errno (-ENOENT for a file that is gone).
	 * Without it: as filled. */
	int (*getattr)(struct rwfs *fs, const struct node *node, struct stat *st);

	/* Handles the FUSE_SET_ATTR_* bits of *to_set it understands and
	 * clears them: 0 or -errno.  ops.c then refuses modes and owners
	 * (EPERM) and truncates of files without write permission (EACCES),
	 * and accepts the rest (times, a truncate: both change nothing). */
	int (*setattr)(fuse_req_t req, struct node *node, const struct stat *attr,
		       int *to_set);

	/* Directories.  lookup: the child called name, entered (node_enter),
	 * or -ENOENT (without lookup: ENOTDIR).  readdir: adds the entries of
	 * the children from the i-th on (their offsets: off, off + 1, ...) to
	 * buf, as many as fit; returns the bytes used. */
	int (*lookup)(struct rwfs *fs, struct node *dir, const char *name,
		      struct node **child);
	size_t (*readdir)(fuse_req_t req, struct node *dir, size_t i, off_t off,
			  char *buf, size_t size);

	/* Makes a child (mknod, or an open with O_CREAT) with mode (the
	 * umask applied), entered: 0 or -errno.  unlink: removes one.  mkdir
	 * and rmdir: the same for a directory.  rename: moves name in dir to
	 * new_name in new_dir, a directory whose class has the same rename
	 * (else EXDEV); flags are rename(2)'s.  Without them: EPERM. */
	int (*create)(fuse_req_t req, struct node *dir, const char *name, mode_t mode,
		      struct node **child);
	int (*unlink)(fuse_req_t req, struct node *dir, const char *name);
	int (*mkdir)(fuse_req_t req, struct node *dir, const char *name, mode_t mode,
		     struct node **child);
	int (*rmdir)(fuse_req_t req, struct node *dir, const char *name);
	int (*rename)(fuse_req_t req, struct node *dir, const char *name,
		      struct node *new_dir, const char *new_name, unsigned flags);

	/* An open file.  open: what a new handle needs (h->flags are the
	 * open's), 0 or -errno.  release: drops it, before the handle is freed
	 * (also at shutdown, without a request).  read, write (at off:
	 * classes whose writes are whole values ignore it) and poll reply
	 * themselves.  Without read:
	 * EISDIR at open for a directory; without write: EBADF; without poll:
	 * always ready. */
	int (*open)(struct rwfs *fs, struct handle *h);
	void (*release)(struct rwfs *fs, struct handle *h);
	void (*read)(fuse_req_t req, struct handle *h, size_t size, off_t off, int flags);
	void (*write)(fuse_req_t req, struct handle *h, const char *buf, size_t size,
		      off_t off, int flags);
	void (*poll)(fuse_req_t req, struct handle *h, struct fuse_pollhandle *ph);

	/* Extended attributes: setxattr returns 0 or -errno (without it:
	 * ENOTSUP); getxattr replies itself (without it: ENODATA). */
	int (*setxattr)(fuse_req_t req, struct node *node, const char *name,
			const char *value, size_t size);
	void (*getxattr)(fuse_req_t req, struct node *node, const char *name, size_t size);
};

extern const struct node_class root_class, mem_class;
extern const struct node_class register_class, cell_class;
extern const struct node_class registers_class, stats_class, inventory_class;
extern const struct node_class ctl_class, shop_class, events_class;
extern const struct node_class queues_class, queue_class;
extern const struct node_class files_root_class, files_class;

/* --- text.c: texts held by a handle --------------------------------------- */

/* A read of a snapshot file: at offset 0 (or the first read) the handle
 * takes a fresh text of its node's format, and logs "read PATH -> VALUE"
 * (show_value: the text without its newline) or "read PATH -> ok".  Later
 * reads serve that text at their offset. */
void text_read_snapshot(fuse_req_t req, struct handle *h, size_t size, off_t off,
			bool show_value);

/* A read of a reply stream (ctl, shop): the handle's text from where the
 * last read stopped, whatever the offset.  A batch kept by text_keep_batch
 * becomes that text at the first read. */
void text_read_reply(fuse_req_t req, struct handle *h, size_t size);

/* Makes reply (malloc'd, taken over; may be NULL) the handle's text, to be
 * read as a stream from its start. */
void text_keep_reply(struct handle *h, char *reply, size_t len);

/* Makes batch (taken over; may be NULL) what h replies, in place of any
 * text or batch it held: printed by the first text_read_reply. */
void text_keep_batch(struct handle *h, struct reply *batch);

/* Adds one directory entry to buf like fuse_add_direntry; returns the
 * bytes it took, or 0 when it does not fit. */
size_t text_add_direntry(fuse_req_t req, char *buf, size_t size, const char *name,
			 fuse_ino_t ino, mode_t mode, off_t off);

/* --- owner.c: uids are this host's numbers; QUEUE_OWNER_DAEMON (and
 * FILES_OWNER_DAEMON, the same) is whoever runs the daemon ------------------ */

/* Sets st's uid and gid to what a node owned by uid and gid shows. */
void owner_show(struct stat *st, uint32_t uid, uint32_t gid);

/* The uid and gid of the client of req: who owns what it makes. */
void owner_of_caller(fuse_req_t req, uint32_t *uid, uint32_t *gid);

/* True when the client of req may chmod what uid owns: it or root. */
bool owner_may_chmod(fuse_req_t req, uint32_t uid);

/* True when the client of req may chown what uid and gid own to attr's
 * (the FUSE_SET_ATTR_UID and _GID of to_set): root, or anyone to the
 * owner it has (cp -p and sed -i ask for that). */
bool owner_may_chown(fuse_req_t req, uint32_t uid, uint32_t gid, const struct stat *attr,
		     int to_set);

/* True when the client of req may remove or rename an entry owned by uid
 * from a directory with dir_mode owned by dir_uid: the directory is not
 * sticky, or the client is root, the entry's owner or the directory's. */
bool owner_may_remove(fuse_req_t req, uint32_t dir_mode, uint32_t dir_uid, uint32_t uid);

/* --- events.c ------------------------------------------------------------- */

/* Makes the parked readers of mnt/events and hooks them to the event log:
 * 0 or -ENOMEM.  events_class_free ends them (EOF). */
int events_class_init(struct rwfs *fs);
void events_class_free(struct rwfs *fs);

/* --- queue.c -------------------------------------------------------------- */

/* Queue id changed (an item in or out, a seal, a capacity, a removal):
 * wakes its parked readers and writers and tells its pollers; a removed
 * queue's waiters end (readers EOF, writers EPIPE).  arg is the struct
 * rwfs.  Safe from any thread and from inside a wake: a call made while
 * the queue is being woken (by this thread or another) is folded into that
 * wake, which goes round once more. */
void queue_class_changed(void *arg, uint64_t id);

/* Holds this thread's wakes of queues until queue_class_release, which
 * wakes queue id if a change came meanwhile: a handler that logs its change
 * lets its line come before the lines of what the change ends. */
void queue_class_hold(void);
void queue_class_release(struct rwfs *fs, uint64_t id);

/* Seals or unseals queue id for the client of req, when it may remove the
 * queue (owner_may_remove in queues/), and logs it ("seal queues/NAME ->
 * ok"): 0, -ENOENT, -EPERM or the journal's error. */
int queue_class_seal(fuse_req_t req, uint64_t id, const char *name, bool seal);

/* Appends the per-queue lines of mnt/stats to what buf holds (len bytes),
 * like snprintf: returns the total length needed. */
size_t queue_class_format_stats(struct rwfs *fs, char *buf, size_t size, size_t len);

#endif
