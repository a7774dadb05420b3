/* files.h - the tree of shared files under mnt/files/: directories and
 * regular files with their content, and the apply of every change to them.
 *
 * Each files_apply_* function is the whole, deterministic effect of one
 * record: the times, ids and modes it stores come in as arguments, and it
 * checks every bound itself (a record may come from a damaged journal).
 * It either changes the tree and returns 0, or returns -errno and changes
 * nothing: a refusal is an outcome, the same live and at replay.  Only
 * -ENOMEM depends on the machine.  The looks (lookup, attributes, read,
 * readdir) change nothing.  Nothing here locks: the caller serialises the
 * apply functions, pins and unpins, and runs the looks under a shared lock.
 *
 * A node's id is the log position of the record that created it; the root
 * directory is FILES_ROOT, which no position is.  An id never changes
 * (rename keeps it), so inode numbers can come from ids.  A create refuses
 * an id that a node of the tree has.  It does not also ask for an id
 * greater than every id given (as queues do), because a snapshot made
 * after a rename holds directories newer than what they contain, and
 * parents must be created before their children; the rule it keeps
 * depends on the tree alone, so two engines with equal trees refuse the
 * same records.  A live create carries its own position, greater than any
 * id that ever was, so it is never refused for its id.
 *
 * Names are 1..FILES_NAME_MAX bytes of anything but '/', NUL and the
 * control characters (below 0x20, and 0x7f), and not "." or "..": UTF-8
 * and spaces are names.  Entries are kept in byte order of their names,
 * so readdir and the dump come out in the same order everywhere.
 *
 * Pins are not part of the state.  The FUSE layer pins a node while a
 * handle on it is open, so that a file unlinked (or replaced by a rename)
 * while open stays readable: a pinned node that leaves the tree is kept,
 * by its id, for files_attr (nlink 0) and files_read, until its last
 * unpin frees it.  It is in no directory, not in the dump and not in the
 * stats' files, dirs and bytes, and every apply function addressed to it
 * answers -ENOENT, as an engine that never had the pin would: a write
 * through a handle on an unlinked file is refused.
 */
#ifndef RWFS_FILES_H
#define RWFS_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FILES_ROOT 0                       /* the id of mnt/files/ itself */
#define FILES_NAME_MAX 255                 /* bytes of a name */
#define FILES_MAX_FILE_SIZE (16u << 20)    /* bytes of one file; more: -EFBIG */
/* Bytes of all files together; more: -ENOSPC.  Content is kept in buffers
 * that grow by doubling, so memory may reach about twice this, plus the
 * content of pinned unlinked files. */
#define FILES_MAX_BYTES (256u << 20)
#define FILES_MAX_NODES 65536              /* the root included; more: -ENOSPC */
#define FILES_DUMP_PIECE (1u << 20)        /* bytes of one FILES_STEP_WRITE */
#define FILES_MODE_MASK 07777              /* the permission bits a node keeps */
/* The owner of the root and of a node just created, until files_apply_owner:
 * whoever runs the daemon (uids are numbers, the same on every host). */
#define FILES_OWNER_DAEMON UINT32_MAX

/* The flags of files_apply_rename: Linux's RENAME_NOREPLACE has this value. */
#define FILES_RENAME_NOREPLACE 1u

/* What files_apply_setattr sets besides the ctime. */
#define FILES_SET_MODE 1u
#define FILES_SET_MTIME 2u
/* A FILE_SETATTR record's third: the owner, set by files_apply_owner. */
#define FILES_SET_OWNER 4u

enum files_type {
	FILES_FILE = 1,
	FILES_DIR = 2,
};

struct files;

struct files_attr {
	enum files_type type;
	uint32_t mode;       /* permission bits only */
	uint32_t uid, gid;   /* FILES_OWNER_DAEMON: the daemon's */
	uint64_t size;       /* bytes of a file; 0 for a directory */
	uint32_t nlink;      /* a file 1, a directory 2 + its subdirectories; 0 unlinked */
	int64_t mtime_ns;
	int64_t ctime_ns;
};

struct files_stats {
	uint64_t files;          /* regular files in the tree */
	uint64_t dirs;           /* directories in the tree, the root not counted */
	uint64_t bytes;          /* their content: what FILES_MAX_BYTES bounds */
	uint64_t unlinked;       /* pinned nodes that left the tree */
	uint64_t unlinked_bytes; /* their content */
};

/* An empty tree: the root, mode 0755, the daemon's, times 0.  NULL when out
 * of memory. */
struct files *files_new(void);

/* Frees the tree and every pinned unlinked node; NULL is a no-op. */
void files_free(struct files *files);

/* True when name (len bytes) is a name a node may have (see above). */
bool files_name_valid(const char *name, size_t len);

/* Creates an empty file or directory with id, called name (len bytes) in
 * the directory parent, with mode; it and parent get mtime and ctime
 * time_ns.  Returns 0; -ENOENT (no directory parent in the tree);
 * -ENOTDIR (parent is a file); -EINVAL (bad name, bad type, mode outside
 * FILES_MODE_MASK, or id a node of the tree has); -EEXIST (parent has the
 * name); -ENOSPC (FILES_MAX_NODES reached); -ENOMEM.  Were id a pinned
 * unlinked node's (a damaged journal), the new node takes it over, pins
 * and all. */
int files_apply_create(struct files *files, uint64_t id, uint64_t parent, const char *name,
		       size_t len, enum files_type type, uint32_t mode, int64_t time_ns);

/* In the functions below that take an id, it is a node of the tree; a
 * pinned unlinked node or an unknown id gives -ENOENT.  A change of
 * content sets the file's mtime and ctime to time_ns. */

/* Writes len bytes of data at offset; a gap past the end reads as zeros.
 * A write of 0 bytes changes nothing.  Returns 0, -ENOENT, -EISDIR,
 * -EFBIG (past FILES_MAX_FILE_SIZE), -ENOSPC (past FILES_MAX_BYTES),
 * -ENOMEM. */
int files_apply_write(struct files *files, uint64_t id, uint64_t offset, const void *data,
		      size_t len, int64_t time_ns);

/* Writes len bytes of data at the end; *offset is where they went.
 * Returns 0 or an error of files_apply_write. */
int files_apply_append(struct files *files, uint64_t id, const void *data, size_t len,
		       int64_t time_ns, uint64_t *offset);

/* The content becomes exactly the len bytes of data, in one change: an
 * open with O_TRUNC and its first write (or its close, with len 0), so a
 * reader sees the old content or the new, never an empty file.  Returns 0
 * or an error of files_apply_write. */
int files_apply_replace(struct files *files, uint64_t id, const void *data, size_t len,
			int64_t time_ns);

/* Cuts the content to size bytes, or extends it with zeros.  Returns 0 or
 * an error of files_apply_write. */
int files_apply_truncate(struct files *files, uint64_t id, uint64_t size, int64_t time_ns);

/* Moves the node called old_name in old_parent to new_name in new_parent,
 * as rename(2): an existing target is replaced in the same change (it
 * leaves the tree: freed, or kept while pinned).  The node gets ctime
 * time_ns, both parents mtime and ctime time_ns.  Renaming a node onto
 * itself changes nothing.  flags is 0 or FILES_RENAME_NOREPLACE.  Returns
 * 0; -ENOENT (a parent, or old_name, not in the tree); -ENOTDIR (a parent
 * is a file, or a directory over a file); -EINVAL (bad name or flags, or a
 * directory into itself or its own subtree); -EEXIST (the target exists
 * and flags has FILES_RENAME_NOREPLACE, even onto itself, as Linux does);
 * -EISDIR (a file over a directory); -ENOTEMPTY (over a directory that has
 * entries); -ENOMEM. */
int files_apply_rename(struct files *files, uint64_t old_parent, const char *old_name,
		       size_t old_len, uint64_t new_parent, const char *new_name,
		       size_t new_len, unsigned flags, int64_t time_ns);

/* Removes the file called name from parent, which gets mtime and ctime
 * time_ns.  Returns 0; -ENOENT; -ENOTDIR (parent is a file); -EINVAL (bad
 * name); -EISDIR (name is a directory). */
int files_apply_unlink(struct files *files, uint64_t parent, const char *name, size_t len,
		       int64_t time_ns);

/* Removes the empty directory called name from parent, which gets mtime
 * and ctime time_ns.  Returns 0; -ENOENT; -ENOTDIR (parent or name is a
 * file); -EINVAL (bad name); -ENOTEMPTY. */
int files_apply_rmdir(struct files *files, uint64_t parent, const char *name, size_t len,
		      int64_t time_ns);

/* Sets what `what` says (FILES_SET_MODE: mode; FILES_SET_MTIME: mtime_ns)
 * and the ctime to time_ns.  Returns 0; -ENOENT; -EINVAL (other bits in
 * what, or mode outside FILES_MODE_MASK). */
int files_apply_setattr(struct files *files, uint64_t id, unsigned what, uint32_t mode,
			int64_t mtime_ns, int64_t time_ns);

/* Sets the owner of the node with id and its ctime to time_ns (who may
 * is the caller's business, as for every apply).  Returns 0 or -ENOENT. */
int files_apply_owner(struct files *files, uint64_t id, uint32_t uid, uint32_t gid,
		      int64_t time_ns);

/* Pins the node with id, in the tree or unlinked and pinned (see above).
 * Returns 0 or -ENOENT. */
int files_pin(struct files *files, uint64_t id);

/* Takes one pin off; the last one off an unlinked node frees it.
 * Returns 0, -ENOENT, or -EINVAL when the node has no pin. */
int files_unpin(struct files *files, uint64_t id);

/* The id of the entry called name (len bytes) in the directory parent.
 * Returns 0, -ENOENT (no such directory or entry; a name that is not
 * valid is no entry) or -ENOTDIR (parent is a file). */
int files_lookup(const struct files *files, uint64_t parent, const char *name, size_t len,
		 uint64_t *id);

/* The attributes of the node with id, in the tree or unlinked and pinned.
 * Returns 0 or -ENOENT. */
int files_attr(const struct files *files, uint64_t id, struct files_attr *out);

/* Copies up to size bytes of the content from offset into buf: the whole
 * file in one call when size allows.  The node is in the tree or unlinked
 * and pinned.  Returns the bytes copied (0 at or past the end), -ENOENT or
 * -EISDIR. */
ssize_t files_read(const struct files *files, uint64_t id, uint64_t offset, void *buf,
		   size_t size);

/* Calls fn for each entry of the directory dir (in the tree, or unlinked,
 * pinned and so empty) whose name comes after after_name (after_len
 * bytes; NULL for all), in byte order of the names, until fn returns
 * non-zero.  The cursor need not still exist: a listing resumed after the
 * last name it gave neither repeats nor skips the entries that stayed,
 * whatever was added or removed meanwhile.  name is NUL-terminated and
 * valid during the call.  Returns 0, what fn returned, -ENOENT, or
 * -ENOTDIR. */
int files_readdir(const struct files *files, uint64_t dir, const char *after_name,
		  size_t after_len,
		  int (*fn)(void *arg, const char *name, size_t len, uint64_t id,
			    enum files_type type),
		  void *arg);

void files_get_stats(const struct files *files, struct files_stats *out);

/* One step of a dump: one call of the apply function its kind names, with
 * the fields listed there; time_ns is the node's ctime in every kind. */
enum files_step_kind {
	/* files_apply_create(id, parent, name, name_len, type, mode, time_ns),
	 * then files_apply_owner(id, uid, gid, time_ns) */
	FILES_STEP_CREATE = 1,
	/* files_apply_write(id, offset, data, len, time_ns) */
	FILES_STEP_WRITE,
	/* files_apply_setattr(id, FILES_SET_MODE | FILES_SET_MTIME, mode,
	 * mtime_ns, time_ns) */
	FILES_STEP_SETATTR,
};

struct files_step {
	enum files_step_kind kind;
	uint64_t id;
	uint64_t parent;
	const char *name;       /* NUL-terminated */
	size_t name_len;
	enum files_type type;
	uint32_t mode;
	uint32_t uid, gid;
	uint64_t offset;
	const void *data;
	size_t len;             /* at most FILES_DUMP_PIECE */
	int64_t mtime_ns;
	int64_t time_ns;
};

/* Applies one step as the function its kind names.  Returns what that
 * function returned, or -EINVAL for an unknown kind. */
int files_apply_step(struct files *files, const struct files_step *step);

/* Calls emit with steps that, applied in order to files_new() through
 * files_apply_step, rebuild the tree: ids, names, types, modes, content,
 * owners and times.  Parents come before their children, each directory's
 * entries in byte order, level by level from the root:
 *   for each node but the root: CREATE, then WRITE of its content in
 *     pieces of FILES_DUMP_PIECE bytes, offset 0 first (none when empty);
 *   then, for every node, the root first, in the same order: SETATTR,
 *     which brings back the mtime and ctime that the later creates and
 *     writes moved.
 * Pinned unlinked nodes are not dumped.  Equal trees dump equal steps.  A
 * step and what it points to are valid during the call only.  Returns 0,
 * -ENOMEM, or the first non-zero value emit returned, which stops the
 * dump. */
int files_dump(const struct files *files,
	       int (*emit)(void *arg, const struct files_step *step), void *arg);

#endif
