/* nodes.h - the namespace: inode numbers <-> files of the mount.
 *
 * Every name of the mount is fixed once the number of memory cells is
 * known, so inode numbers are computed, not allocated: nothing here needs
 * lookup counts or a lock.
 *
 *   1            the root          2..27   registers A..Z
 *   28 registers  29 ctl  30 stats  31 events  32 mem/  33 queues/
 *   34 inventory  35 shop
 *   1024 + N     mem/N
 *   2^32 + ID    queues/NAME, ID the queue's id in the state (the names in
 *                queues/ come and go: ops.c asks the state for them)
 */
#ifndef RWFS_NODES_H
#define RWFS_NODES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum node_kind {
	NODE_ROOT,
	NODE_REGISTER,
	NODE_REGISTERS,
	NODE_CTL,
	NODE_STATS,
	NODE_EVENTS,
	NODE_MEMDIR,
	NODE_CELL,
	NODE_QUEUEDIR,
	NODE_QUEUE,
	NODE_INVENTORY,
	NODE_SHOP,
};

struct node {
	enum node_kind kind;
	uint64_t index; /* register 0..25, cell number, or queue id */
};

/* The node of inode ino, or -ENOENT.  ncells bounds the cells. */
int node_from_ino(uint64_t ino, size_t ncells, struct node *out);

uint64_t node_ino(const struct node *node);

/* The child called name of directory dir, or -ENOENT (-ENOTDIR when dir
 * is not a directory).  Not for queues/. */
int node_lookup(const struct node *dir, const char *name, size_t ncells,
		struct node *out);

/* The i-th child of dir (i from 0) and its name, or -ENOENT past the end.
 * Not for queues/. */
int node_child(const struct node *dir, size_t i, size_t ncells, struct node *out,
	       char *name, size_t size);

/* The file's name as shown in the event log ("A", "mem/7", "ctl"); not
 * for a queue. */
void node_path(const struct node *node, char *buf, size_t size);

/* File type and permission bits. */
mode_t node_mode(const struct node *node);

#endif
