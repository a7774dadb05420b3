/* owner.c - owners and modes of what users make (queues, shared files):
 * what stat shows of them and who may change them.  See class.h.
 *
 * Access by the mode bits (read, write, search) is the kernel's, with
 * default_permissions.  The rules of ownership are kept here as well, so
 * that they hold without it and for what the kernel does not check (the
 * attributes of queues/ that seal and remove a queue by name): only the
 * owner or root changes a mode, only root an owner, and in a sticky
 * directory only the entry's owner, the directory's or root removes or
 * renames an entry.
 */
#include <unistd.h>

#include "class.h"

static uint32_t shown_uid(uint32_t uid)
{
	return uid == QUEUE_OWNER_DAEMON ? (uint32_t)getuid() : uid;
}

static uint32_t shown_gid(uint32_t gid)
{
	return gid == QUEUE_OWNER_DAEMON ? (uint32_t)getgid() : gid;
}

void owner_show(struct stat *st, uint32_t uid, uint32_t gid)
{
	st->st_uid = shown_uid(uid);
	st->st_gid = shown_gid(gid);
}

bool owner_may_chmod(fuse_req_t req, uint32_t uid)
{
	uid_t caller = fuse_req_ctx(req)->uid;

	return caller == 0 || caller == shown_uid(uid);
}

bool owner_may_chown(fuse_req_t req, uint32_t uid, uint32_t gid, const struct stat *attr,
		     int to_set)
{
	bool same_uid = !(to_set & FUSE_SET_ATTR_UID) || attr->st_uid == shown_uid(uid);
	bool same_gid = !(to_set & FUSE_SET_ATTR_GID) || attr->st_gid == shown_gid(gid);

	return fuse_req_ctx(req)->uid == 0 || (same_uid && same_gid);
}

bool owner_may_remove(fuse_req_t req, uint32_t dir_mode, uint32_t dir_uid, uint32_t uid)
{
	uid_t caller = fuse_req_ctx(req)->uid;

	return !(dir_mode & S_ISVTX) || caller == 0 || caller == shown_uid(uid) ||
	       caller == shown_uid(dir_uid);
}

void owner_of_caller(fuse_req_t req, uint32_t *uid, uint32_t *gid)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	*uid = (uint32_t)ctx->uid;
	*gid = (uint32_t)ctx->gid;
}
