/* queues.c - the directory mnt/queues/: its names are the queues of the
 * state, made by touch, mkfifo or an open with O_CREAT and removed by rm.
 *
 * Its attributes user.seal, user.unseal and user.remove, set to a queue's
 * name, seal, unseal and remove that queue.  They lock the directory in
 * the kernel, not the queue, so they work at once also while a writer is
 * parked on the queue, when chmod and rm of the queue itself wait for it.
 */
#include <errno.h>
#include <string.h>

#include "class.h"

static int lookup(struct rwfs *fs, struct node *dir, const char *name, struct node **child)
{
	uint64_t id;
	int ret = state_queue_find(fs->st, name, strlen(name), &id, NULL);

	if (ret)
		return ret;
	*child = node_enter(fs->nodes, &queue_class, id, dir, name);
	return *child ? 0 : -ENOMEM;
}

static size_t readdir(fuse_req_t req, struct node *dir, size_t i, off_t off, char *buf,
		      size_t size)
{
	struct rwfs *fs = fs_of(req);
	char name[QUEUE_NAME_MAX + 1];
	size_t used = 0, need;
	uint64_t id;

	(void)dir;
	for (; state_queue_at(fs->st, i, &id, name, NULL) == 0; i++, off++) {
		need = text_add_direntry(req, buf + used, size - used, name,
					 queue_class.ino_base + id, S_IFREG, off);
		if (!need)
			break;
		used += need;
	}
	return used;
}

/* The queue belongs to the caller, with the mode asked (the kernel applied
 * the caller's umask: rwfs does not ask for FUSE_CAP_DONT_MASK). */
static int create(fuse_req_t req, struct node *dir, const char *name, mode_t mode,
		  struct node **child)
{
	struct rwfs *fs = fs_of(req);
	uint32_t uid, gid;
	uint64_t id;
	int ret;

	owner_of_caller(req, &uid, &gid);
	ret = state_queue_create(fs->st, name, strlen(name), mode & QUEUE_MODE_MASK, uid, gid,
				 client_pid(req), &id);
	if (logging(fs))
		log_event(fs, req, "create queues/%s -> %s", name,
			  log_outcome_text(ret));
	if (ret)
		return ret;
	*child = node_enter(fs->nodes, &queue_class, id, dir, name);
	return *child ? 0 : -ENOMEM;
}

/* Removes the queue and every item in it; its parked readers wake with
 * end of file, its parked writers with EPIPE. */
static int unlink_queue(fuse_req_t req, struct node *dir, const char *name)
{
	struct rwfs *fs = fs_of(req);
	struct queue_stats qs;
	uint64_t id;
	int ret;

	/* queues/ is sticky: rm checks it in the kernel, user.remove here. */
	ret = state_queue_find(fs->st, name, strlen(name), &id, &qs);
	if (!ret && !owner_may_remove(req, dir->class->mode, QUEUE_OWNER_DAEMON, qs.uid))
		ret = -EPERM;
	/* Logged before the wake, so the removal comes before what it ends. */
	queue_class_hold();
	if (!ret)
		ret = state_queue_delete(fs->st, name, strlen(name), client_pid(req), &id);
	if (logging(fs))
		log_event(fs, req, "rm queues/%s -> %s", name, log_outcome_text(ret));
	queue_class_release(fs, ret ? 0 : id);
	return ret;
}

/* user.seal, user.unseal, user.remove: 0, -ENOENT (no such queue),
 * -ENOTSUP (another name), or the journal's error. */
static int setxattr(fuse_req_t req, struct node *dir, const char *name, const char *value,
		    size_t size)
{
	struct rwfs *fs = fs_of(req);
	char queue[QUEUE_NAME_MAX + 1];
	uint64_t id;
	bool seal = strcmp(name, "user.seal") == 0;

	if (!seal && strcmp(name, "user.unseal") != 0 && strcmp(name, "user.remove") != 0)
		return -ENOTSUP;
	/* setfattr -v NAME sends no newline; echo-like tools may. */
	if (size && value[size - 1] == '\n')
		size--;
	if (size == 0 || size > QUEUE_NAME_MAX || memchr(value, '\0', size))
		return -ENOENT;
	memcpy(queue, value, size);
	queue[size] = '\0';
	if (strcmp(name, "user.remove") == 0)
		return unlink_queue(req, dir, queue);
	if (state_queue_find(fs->st, queue, size, &id, NULL) != 0)
		return -ENOENT;
	return queue_class_seal(req, id, queue, seal);
}

/* Sticky and open to all, as /tmp: anyone makes a queue, only its owner
 * (or root, or the daemon's user) removes it. */
const struct node_class queues_class = {
	.ino_base = 33,
	.mode = S_IFDIR | 01777,
	.entry_timeout = 86400.0,
	.lookup = lookup,
	.readdir = readdir,
	.create = create,
	.unlink = unlink_queue,
	.setxattr = setxattr,
};
