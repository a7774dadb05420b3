/* dir.c - the fixed directories: the root (its names never change) and
 * mem/ (one cell per number below --memory).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "class.h"

static int lookup_fixed(struct rwfs *fs, struct node *dir, const char *name,
			struct node **child)
{
	*child = node_fixed_lookup(fs->nodes, dir, name);
	return *child ? 0 : -ENOENT;
}

static size_t readdir_fixed(fuse_req_t req, struct node *dir, size_t i, off_t off,
			    char *buf, size_t size)
{
	struct rwfs *fs = fs_of(req);
	struct node *child;
	size_t used = 0, need;

	for (; (child = node_fixed_child(fs->nodes, dir, i)); i++, off++) {
		need = text_add_direntry(req, buf + used, size - used, child->name, child->ino,
					 child->class->mode, off);
		if (!need)
			break;
		used += need;
	}
	return used;
}

/* Parses a cell number written the canonical way ("7", not "07" or "+7"),
 * so that every cell has exactly one name. */
static int parse_cell(const char *name, size_t ncells, uint64_t *out)
{
	char *end;
	unsigned long v;

	if (name[0] < '0' || name[0] > '9' || (name[0] == '0' && name[1]))
		return -ENOENT;
	errno = 0;
	v = strtoul(name, &end, 10);
	if (errno || *end || v >= ncells)
		return -ENOENT;
	*out = v;
	return 0;
}

static int lookup_cell(struct rwfs *fs, struct node *dir, const char *name,
		       struct node **child)
{
	uint64_t cell;
	int ret = parse_cell(name, state_ncells(fs->st), &cell);

	if (ret)
		return ret;
	*child = node_enter(fs->nodes, &cell_class, cell, dir, name);
	return *child ? 0 : -ENOMEM;
}

static size_t readdir_cells(fuse_req_t req, struct node *dir, size_t i, off_t off,
			    char *buf, size_t size)
{
	size_t ncells = state_ncells(fs_of(req)->st), used = 0, need;
	char name[24];

	(void)dir;
	for (; i < ncells; i++, off++) {
		snprintf(name, sizeof(name), "%zu", i);
		need = text_add_direntry(req, buf + used, size - used, name,
					 cell_class.ino_base + i, cell_class.mode, off);
		if (!need)
			break;
		used += need;
	}
	return used;
}

const struct node_class root_class = {
	.ino_base = FUSE_ROOT_ID,
	.mode = S_IFDIR | 0755,
	.entry_timeout = 86400.0,
	.lookup = lookup_fixed,
	.readdir = readdir_fixed,
};

const struct node_class mem_class = {
	.ino_base = 32,
	.mode = S_IFDIR | 0555,
	.entry_timeout = 86400.0,
	.lookup = lookup_cell,
	.readdir = readdir_cells,
};
