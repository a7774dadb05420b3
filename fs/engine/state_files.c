/* state_files.c - the shared files of the state: every change one record,
 * decided by apply (files.h); the looks under the shared lock.  See
 * state.h.
 *
 * A record carries the node's id, or the parent's id and the name: the
 * lock is not held while the record goes through the log, and should the
 * node go meanwhile, apply refuses the record rather than change another.
 */
#include <errno.h>

#include "state_priv.h"

/* Proposes r and turns a refusal into the return value. */
static int propose(struct state *st, struct record *r, struct outcome *out)
{
	int ret = state_submit(st, r, out);

	return ret ? ret : out->err;
}

/* The cheap refusals of a change of node id's content: it is gone, it is
 * a directory, or the end would pass the bound (end is the offset past
 * the change's last byte; UINT64_MAX for an append, checked by apply). */
static int check_content(struct state *st, uint64_t id, uint64_t end)
{
	struct files_attr a;
	int ret = state_file_attr(st, id, &a);

	if (ret)
		return ret;
	if (a.type == FILES_DIR)
		return -EISDIR;
	if (a.nlink == 0)
		return -ENOENT;
	return end != UINT64_MAX && end > FILES_MAX_FILE_SIZE ? -EFBIG : 0;
}

int state_file_create(struct state *st, uint64_t parent, const char *name, size_t len,
		      bool dir, uint32_t mode, uint32_t uid, uint32_t gid, uint32_t pid,
		      uint64_t *id)
{
	struct record r = { .kind = RECORD_FILE_CREATE, .pid = pid, .u = parent,
			    .name = { name, len }, .v = dir ? FILES_DIR : FILES_FILE,
			    .mode = mode & FILES_MODE_MASK, .uid = uid, .gid = gid };
	struct outcome out = { .err = 0 };
	int ret;

	if (!files_name_valid(name, len))
		return -EINVAL;
	ret = propose(st, &r, &out);
	if (!ret)
		*id = out.file_id;
	return ret;
}

int state_file_write(struct state *st, uint64_t id, uint64_t offset, const void *data,
		     size_t len, uint32_t pid)
{
	struct record r = { .kind = RECORD_FILE_WRITE, .pid = pid, .u = offset,
			    .data = { data, len }, .queue = id };
	struct outcome out = { .err = 0 };
	int ret = offset > FILES_MAX_FILE_SIZE ? -EFBIG : check_content(st, id, offset + len);

	if (ret || len == 0)
		return ret;
	return propose(st, &r, &out);
}

int state_file_append(struct state *st, uint64_t id, const void *data, size_t len,
		      uint32_t pid, uint64_t *offset)
{
	struct record r = { .kind = RECORD_FILE_APPEND, .pid = pid, .data = { data, len },
			    .queue = id };
	struct outcome out = { .err = 0 };
	int ret = check_content(st, id, UINT64_MAX);

	if (!ret)
		ret = propose(st, &r, &out);
	if (!ret)
		*offset = out.file_offset;
	return ret;
}

int state_file_replace(struct state *st, uint64_t id, const void *data, size_t len,
		       uint32_t pid)
{
	struct record r = { .kind = RECORD_FILE_REPLACE, .pid = pid, .data = { data, len },
			    .queue = id };
	struct outcome out = { .err = 0 };
	int ret = check_content(st, id, len);

	return ret ? ret : propose(st, &r, &out);
}

int state_file_truncate(struct state *st, uint64_t id, uint64_t size, uint32_t pid)
{
	struct record r = { .kind = RECORD_FILE_TRUNCATE, .pid = pid, .u = size, .queue = id };
	struct outcome out = { .err = 0 };
	int ret = check_content(st, id, size);

	return ret ? ret : propose(st, &r, &out);
}

int state_file_rename(struct state *st, uint64_t old_parent, const char *old_name,
		      size_t old_len, uint64_t new_parent, const char *new_name,
		      size_t new_len, unsigned flags, uint32_t pid)
{
	struct record r = { .kind = RECORD_FILE_RENAME, .pid = pid, .u = old_parent,
			    .name = { old_name, old_len }, .v = new_parent,
			    .target = { new_name, new_len }, .i = flags };
	struct outcome out = { .err = 0 };

	if (!files_name_valid(old_name, old_len) || !files_name_valid(new_name, new_len) ||
	    flags & ~FILES_RENAME_NOREPLACE)
		return -EINVAL;
	return propose(st, &r, &out);
}

int state_file_unlink(struct state *st, uint64_t parent, const char *name, size_t len,
		      bool dir, uint32_t pid)
{
	struct record r = { .kind = dir ? RECORD_FILE_RMDIR : RECORD_FILE_UNLINK, .pid = pid,
			    .u = parent, .name = { name, len } };
	struct outcome out = { .err = 0 };
	uint64_t id;
	int ret = state_file_lookup(st, parent, name, len, &id, NULL);

	return ret ? ret : propose(st, &r, &out);
}

int state_file_setattr(struct state *st, uint64_t id, unsigned what, uint32_t mode,
		       uint32_t uid, uint32_t gid, int64_t mtime_ns, uint32_t pid)
{
	struct record r = { .kind = RECORD_FILE_SETATTR, .pid = pid, .v = what,
			    .mode = mode & FILES_MODE_MASK, .uid = uid, .gid = gid, .j = mtime_ns,
			    .queue = id };
	struct outcome out = { .err = 0 };
	struct files_attr a;
	int ret = state_file_attr(st, id, &a);

	if (!ret && a.nlink == 0)
		ret = -ENOENT;
	return ret ? ret : propose(st, &r, &out);
}

int state_file_lookup(struct state *st, uint64_t parent, const char *name, size_t len,
		      uint64_t *id, struct files_attr *attr)
{
	int ret;

	rwlock_read_lock(&st->lock);
	ret = files_lookup(st->files, parent, name, len, id);
	if (!ret && attr)
		ret = files_attr(st->files, *id, attr);
	rwlock_read_unlock(&st->lock);
	return ret;
}

int state_file_attr(struct state *st, uint64_t id, struct files_attr *attr)
{
	int ret;

	rwlock_read_lock(&st->lock);
	ret = files_attr(st->files, id, attr);
	rwlock_read_unlock(&st->lock);
	return ret;
}

ssize_t state_file_read(struct state *st, uint64_t id, uint64_t offset, void *buf,
			size_t size)
{
	ssize_t n;

	rwlock_read_lock(&st->lock);
	n = files_read(st->files, id, offset, buf, size);
	rwlock_read_unlock(&st->lock);
	state_bump(&st->reads);
	return n;
}

int state_file_readdir(struct state *st, uint64_t dir, const char *after_name,
		       size_t after_len,
		       int (*fn)(void *arg, const char *name, size_t len, uint64_t id,
				 enum files_type type),
		       void *arg)
{
	int ret;

	rwlock_read_lock(&st->lock);
	ret = files_readdir(st->files, dir, after_name, after_len, fn, arg);
	rwlock_read_unlock(&st->lock);
	return ret;
}

int state_file_pin(struct state *st, uint64_t id)
{
	int ret;

	rwlock_write_lock(&st->lock);
	ret = files_pin(st->files, id);
	rwlock_write_unlock(&st->lock);
	return ret;
}

int state_file_unpin(struct state *st, uint64_t id)
{
	int ret;

	rwlock_write_lock(&st->lock);
	ret = files_unpin(st->files, id);
	rwlock_write_unlock(&st->lock);
	return ret;
}
