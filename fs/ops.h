/* ops.h - the FUSE low-level operations of rwfs.
 *
 * Each handler decodes its inode, finds the node (node.h) and hands the
 * request to the node's class (class/class.h), which makes the engine call
 * and replies.  Every file is opened with direct_io, so the kernel caches
 * no data and every read reaches the engine; attributes are never cached
 * either, so `stat` shows the current length.
 */
#ifndef RWFS_OPS_H
#define RWFS_OPS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "engine/state.h"

struct rwfs;

extern const struct fuse_lowlevel_ops rwfs_ops;

/* The userdata of the session: the state it serves (not owned), the
 * inode table and the parked readers of mnt/events.  NULL when out of
 * memory. */
struct rwfs *rwfs_new(struct state *st);

/* Answers every parked request (EOF) and frees fs; NULL is a no-op.  Call
 * it after the session loop ended and before unmounting. */
void rwfs_free(struct rwfs *fs);

#endif
