/* nodes.c - the fixed namespace.  See nodes.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nodes.h"

#define INO_ROOT 1
#define INO_REGISTER 2
#define INO_CELL 1024
#define INO_QUEUE (1ull << 32)

/* The root's entries other than the registers, in listing order. */
static const struct {
	const char *name;
	enum node_kind kind;
	uint64_t ino;
	mode_t mode;
} files[] = {
	{ "registers", NODE_REGISTERS, 28, S_IFREG | 0444 },
	{ "ctl", NODE_CTL, 29, S_IFREG | 0666 },
	{ "stats", NODE_STATS, 30, S_IFREG | 0444 },
	{ "events", NODE_EVENTS, 31, S_IFREG | 0444 },
	{ "mem", NODE_MEMDIR, 32, S_IFDIR | 0555 },
	{ "queues", NODE_QUEUEDIR, 33, S_IFDIR | 0755 },
	{ "inventory", NODE_INVENTORY, 34, S_IFREG | 0444 },
	{ "shop", NODE_SHOP, 35, S_IFREG | 0666 },
};

#define NFILES (sizeof(files) / sizeof(files[0]))
#define NREGISTERS 26

int node_from_ino(uint64_t ino, size_t ncells, struct node *out)
{
	if (ino == INO_ROOT) {
		*out = (struct node){ NODE_ROOT, 0 };
		return 0;
	}
	if (ino >= INO_REGISTER && ino < INO_REGISTER + NREGISTERS) {
		*out = (struct node){ NODE_REGISTER, ino - INO_REGISTER };
		return 0;
	}
	if (ino >= INO_QUEUE) {
		*out = (struct node){ NODE_QUEUE, ino - INO_QUEUE };
		return 0;
	}
	if (ino >= INO_CELL && ino - INO_CELL < ncells) {
		*out = (struct node){ NODE_CELL, ino - INO_CELL };
		return 0;
	}
	for (size_t i = 0; i < NFILES; i++) {
		if (files[i].ino == ino) {
			*out = (struct node){ files[i].kind, 0 };
			return 0;
		}
	}
	return -ENOENT;
}

uint64_t node_ino(const struct node *node)
{
	switch (node->kind) {
	case NODE_ROOT:
		return INO_ROOT;
	case NODE_REGISTER:
		return INO_REGISTER + node->index;
	case NODE_CELL:
		return INO_CELL + node->index;
	case NODE_QUEUE:
		return INO_QUEUE + node->index;
	default:
		for (size_t i = 0; i < NFILES; i++)
			if (files[i].kind == node->kind)
				return files[i].ino;
	}
	return 0;
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

int node_lookup(const struct node *dir, const char *name, size_t ncells,
		struct node *out)
{
	if (dir->kind == NODE_MEMDIR) {
		out->kind = NODE_CELL;
		return parse_cell(name, ncells, &out->index);
	}
	if (dir->kind != NODE_ROOT)
		return -ENOTDIR;
	if (name[0] >= 'A' && name[0] <= 'Z' && name[1] == '\0') {
		*out = (struct node){ NODE_REGISTER, (size_t)(name[0] - 'A') };
		return 0;
	}
	for (size_t i = 0; i < NFILES; i++) {
		if (strcmp(files[i].name, name) == 0) {
			*out = (struct node){ files[i].kind, 0 };
			return 0;
		}
	}
	return -ENOENT;
}

int node_child(const struct node *dir, size_t i, size_t ncells, struct node *out,
	       char *name, size_t size)
{
	if (dir->kind == NODE_MEMDIR) {
		if (i >= ncells)
			return -ENOENT;
		*out = (struct node){ NODE_CELL, i };
		snprintf(name, size, "%zu", i);
		return 0;
	}
	if (i < NREGISTERS) {
		*out = (struct node){ NODE_REGISTER, i };
		snprintf(name, size, "%c", (char)('A' + i));
		return 0;
	}
	i -= NREGISTERS;
	if (i >= NFILES)
		return -ENOENT;
	*out = (struct node){ files[i].kind, 0 };
	snprintf(name, size, "%s", files[i].name);
	return 0;
}

void node_path(const struct node *node, char *buf, size_t size)
{
	switch (node->kind) {
	case NODE_ROOT:
		snprintf(buf, size, "/");
		return;
	case NODE_REGISTER:
		snprintf(buf, size, "%c", (char)('A' + node->index));
		return;
	case NODE_CELL:
		snprintf(buf, size, "mem/%llu", (unsigned long long)node->index);
		return;
	default:
		for (size_t i = 0; i < NFILES; i++)
			if (files[i].kind == node->kind)
				snprintf(buf, size, "%s", files[i].name);
	}
}

mode_t node_mode(const struct node *node)
{
	switch (node->kind) {
	case NODE_ROOT:
		return S_IFDIR | 0755;
	case NODE_REGISTER:
	case NODE_CELL:
	case NODE_QUEUE:
		return S_IFREG | 0666;
	default:
		for (size_t i = 0; i < NFILES; i++)
			if (files[i].kind == node->kind)
				return files[i].mode;
	}
	return 0;
}
