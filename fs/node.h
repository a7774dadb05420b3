/* node.h - the inode table: the files and directories the kernel knows.
 *
 * A node is one of them: its class (what kind of file it is and how each
 * operation is answered, class/class.h), its index within the class
 * (register 0..25, cell number, queue id), its parent and its name.  Its
 * inode number is the class's ino_base plus the index, so a node keeps its
 * number for as long as the thing it names exists, also across forgets.
 *
 * The fixed nodes (the root, A..Z, registers, ctl, stats, events, mem,
 * queues, inventory, shop) are permanent.  The others (cells, queues) are
 * made by the lookup or create that names them, and counted: the kernel's
 * lookup count (one per entry replied, less what it forgets) plus the
 * daemon's own references (an open file, an operation under way).  When
 * both reach 0 the node is freed; a later lookup makes it again with the
 * same number.
 *
 * Lock: the table's mutex guards the dynamic nodes' counts and the hash;
 * fixed nodes take no lock.  No other lock is taken under it.
 */
#ifndef RWFS_NODE_H
#define RWFS_NODE_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node_class;
struct node_table;

struct node {
	const struct node_class *class;
	uint64_t index;            /* register, cell number or queue id */
	fuse_ino_t ino;            /* class->ino_base + index */
	const struct node *parent; /* NULL for the root */
	const char *name;          /* in parent; owned by the node when dynamic */
	void *priv;                /* the class's own (see node_class.init) */
	bool fixed;                /* permanent: never counted, never freed */
	uint64_t nlookup;          /* under the table lock */
	unsigned refs;             /* under the table lock */
	struct node *next;         /* under the table lock: hash chain */
};

/* A table holding the fixed nodes.  NULL when out of memory. */
struct node_table *node_table_new(void);

/* Frees every node (each class's release_node runs); NULL is a no-op.  For
 * shutdown, when no operation runs any more. */
void node_table_free(struct node_table *t);

/* The node of ino with a reference the caller drops with node_put, or
 * NULL when the table holds no such node. */
struct node *node_get(struct node_table *t, fuse_ino_t ino);

/* The node of index in class if the table holds it, with a reference, or
 * NULL: it then has no open file and nobody waits on it. */
struct node *node_find(struct node_table *t, const struct node_class *class,
		       uint64_t index);

/* Drops a reference of node_get, node_find or node_hold; NULL is a no-op. */
void node_put(struct node_table *t, struct node *node);

/* Takes one more reference of a node the caller holds. */
void node_hold(struct node_table *t, struct node *node);

/* Counts one lookup of index in class, named name in parent, making the
 * node when the table does not hold it: for an entry about to be replied
 * (lookup, mknod, create).  Returns the node, or NULL when out of memory.
 * For a fixed node it returns that node and counts nothing. */
struct node *node_enter(struct node_table *t, const struct node_class *class,
			uint64_t index, const struct node *parent, const char *name);

/* The kernel forgot n lookups of ino (forget, or a reply that never
 * reached it). */
void node_forget(struct node_table *t, fuse_ino_t ino, uint64_t n);

/* The fixed child of dir called name, or the i-th (from 0) in listing
 * order; NULL when there is none. */
struct node *node_fixed_lookup(struct node_table *t, const struct node *dir,
			       const char *name);
struct node *node_fixed_child(struct node_table *t, const struct node *dir, size_t i);

/* Writes the node's path from the mount point ("A", "mem/7", "queues/jobs"),
 * as the event log shows it, into buf (size > 0 bytes, cut to fit) and
 * returns its length. */
size_t node_path(const struct node *node, char *buf, size_t size);

#endif
