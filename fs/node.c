/* node.c - the inode table.  See node.h.
 *
 * The fixed nodes sit in an array indexed by inode number (1..36); the
 * others in a hash of chains keyed by inode number, which doubles when it
 * holds more nodes than chains.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "class/class.h"
#include "node.h"

#define NREGISTERS 26
#define HASH_MIN 64

/* Under the root, in listing order (after A..Z). */
static const struct node_class *const root_files[] = {
	&registers_class, &ctl_class, &stats_class, &events_class, &mem_class,
	&queues_class, &inventory_class, &shop_class, &files_root_class,
};

static const char *const root_names[] = {
	"registers", "ctl", "stats", "events", "mem", "queues", "inventory", "shop", "files",
};

#define NROOT_FILES (sizeof(root_files) / sizeof(root_files[0]))
#define NFIXED (1 + NREGISTERS + NROOT_FILES)
#define INO_FIXED_MAX 64

struct node_table {
	pthread_mutex_t lock;
	struct node fixed[NFIXED];      /* the root first, then its children */
	struct node *by_ino[INO_FIXED_MAX]; /* the fixed nodes by number */
	char register_names[NREGISTERS][2];
	struct node **buckets;          /* under lock */
	size_t nbuckets;                /* under lock: a power of 2 */
	size_t count;                   /* under lock */
};

static void fixed_init(struct node_table *t, size_t i, const struct node_class *class,
		       uint64_t index, const char *name)
{
	struct node *n = &t->fixed[i];

	*n = (struct node){ .class = class, .index = index, .ino = class->ino_base + index,
			    .parent = i ? &t->fixed[0] : NULL, .name = name, .fixed = true };
	t->by_ino[n->ino] = n;
}

struct node_table *node_table_new(void)
{
	struct node_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nbuckets = HASH_MIN;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets || pthread_mutex_init(&t->lock, NULL)) {
		free(t->buckets);
		free(t);
		return NULL;
	}
	fixed_init(t, 0, &root_class, 0, "");
	for (size_t r = 0; r < NREGISTERS; r++) {
		t->register_names[r][0] = (char)('A' + r);
		fixed_init(t, 1 + r, &register_class, r, t->register_names[r]);
	}
	for (size_t i = 0; i < NROOT_FILES; i++)
		fixed_init(t, 1 + NREGISTERS + i, root_files[i], 0, root_names[i]);
	return t;
}

static void node_free(struct node *n)
{
	if (n->class->release_node)
		n->class->release_node(n);
	free((char *)n->name);
	free(n);
}

void node_table_free(struct node_table *t)
{
	if (!t)
		return;
	for (size_t b = 0; b < t->nbuckets; b++) {
		while (t->buckets[b]) {
			struct node *n = t->buckets[b];

			t->buckets[b] = n->next;
			node_free(n);
		}
	}
	free(t->buckets);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static size_t bucket_of(const struct node_table *t, fuse_ino_t ino)
{
	/* Numbers are dense within a class: mixing spreads the classes. */
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 20) & (t->nbuckets - 1);
}

/* The dynamic node of ino, or NULL.  Under t->lock. */
static struct node *lookup_locked(struct node_table *t, fuse_ino_t ino)
{
	struct node *n = t->buckets[bucket_of(t, ino)];

	while (n && n->ino != ino)
		n = n->next;
	return n;
}

/* Doubles the chains; stays as it is when out of memory (only slower).
 * Under t->lock. */
static void grow_locked(struct node_table *t)
{
	size_t old = t->nbuckets;
	struct node **old_buckets = t->buckets;
	struct node **buckets = calloc(old * 2, sizeof(*buckets));

	if (!buckets)
		return;
	t->buckets = buckets;
	t->nbuckets = old * 2;
	for (size_t b = 0; b < old; b++) {
		while (old_buckets[b]) {
			struct node *n = old_buckets[b];
			size_t to = bucket_of(t, n->ino);

			old_buckets[b] = n->next;
			n->next = buckets[to];
			buckets[to] = n;
		}
	}
	free(old_buckets);
}

/* Unhooks and frees n when nobody counts it any more.  Under t->lock. */
static void drop_if_unused_locked(struct node_table *t, struct node *n)
{
	struct node **link;

	if (n->fixed || n->nlookup || n->refs)
		return;
	for (link = &t->buckets[bucket_of(t, n->ino)]; *link != n; link = &(*link)->next)
		;
	*link = n->next;
	t->count--;
	node_free(n);
}

struct node *node_get(struct node_table *t, fuse_ino_t ino)
{
	struct node *n;

	if (ino < INO_FIXED_MAX)
		return t->by_ino[ino];
	pthread_mutex_lock(&t->lock);
	n = lookup_locked(t, ino);
	if (n)
		n->refs++;
	pthread_mutex_unlock(&t->lock);
	return n;
}

struct node *node_find(struct node_table *t, const struct node_class *class,
		       uint64_t index)
{
	return node_get(t, class->ino_base + index);
}

void node_put(struct node_table *t, struct node *node)
{
	if (!node || node->fixed)
		return;
	pthread_mutex_lock(&t->lock);
	node->refs--;
	drop_if_unused_locked(t, node);
	pthread_mutex_unlock(&t->lock);
}

void node_hold(struct node_table *t, struct node *node)
{
	if (node->fixed)
		return;
	pthread_mutex_lock(&t->lock);
	node->refs++;
	pthread_mutex_unlock(&t->lock);
}

/* A new dynamic node, its name copied.  NULL when out of memory. */
static struct node *node_new(const struct node_class *class, uint64_t index,
			     const struct node *parent, const char *name)
{
	struct node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	*n = (struct node){ .class = class, .index = index, .ino = class->ino_base + index,
			    .parent = parent, .name = strdup(name) };
	if (!n->name || (class->init && class->init(n) != 0)) {
		free((char *)n->name);
		free(n);
		return NULL;
	}
	return n;
}

struct node *node_enter(struct node_table *t, const struct node_class *class,
			uint64_t index, const struct node *parent, const char *name)
{
	fuse_ino_t ino = class->ino_base + index;
	struct node *n;

	if (ino < INO_FIXED_MAX)
		return t->by_ino[ino];
	pthread_mutex_lock(&t->lock);
	n = lookup_locked(t, ino);
	if (!n) {
		n = node_new(class, index, parent, name);
		if (n) {
			size_t b = bucket_of(t, ino);

			n->next = t->buckets[b];
			t->buckets[b] = n;
			if (++t->count > t->nbuckets)
				grow_locked(t);
		}
	}
	if (n)
		n->nlookup++;
	pthread_mutex_unlock(&t->lock);
	return n;
}

void node_forget(struct node_table *t, fuse_ino_t ino, uint64_t n)
{
	struct node *node;

	if (ino < INO_FIXED_MAX)
		return;
	pthread_mutex_lock(&t->lock);
	node = lookup_locked(t, ino);
	if (node) {
		node->nlookup = n < node->nlookup ? node->nlookup - n : 0;
		drop_if_unused_locked(t, node);
	}
	pthread_mutex_unlock(&t->lock);
}

struct node *node_fixed_lookup(struct node_table *t, const struct node *dir,
			       const char *name)
{
	for (size_t i = 1; i < NFIXED; i++)
		if (t->fixed[i].parent == dir && strcmp(t->fixed[i].name, name) == 0)
			return &t->fixed[i];
	return NULL;
}

struct node *node_fixed_child(struct node_table *t, const struct node *dir, size_t i)
{
	for (size_t f = 1; f < NFIXED; f++)
		if (t->fixed[f].parent == dir && i-- == 0)
			return &t->fixed[f];
	return NULL;
}

/* Appends n bytes of s to the path in buf (len bytes so far) as far as
 * size allows, keeping it a string; returns the new length.  By hand, not
 * snprintf: a path is made for every event line. */
static size_t path_put(char *buf, size_t size, size_t len, const char *s, size_t n)
{
	if (n > size - 1 - len)
		n = size - 1 - len;
	memcpy(buf + len, s, n);
	buf[len + n] = '\0';
	return len + n;
}

size_t node_path(const struct node *node, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	if (!node->parent)
		return path_put(buf, size, 0, "/", 1);
	if (node->parent->parent) {
		len = node_path(node->parent, buf, size);
		len = path_put(buf, size, len, "/", 1);
	}
	return path_put(buf, size, len, node->name, strlen(node->name));
}
