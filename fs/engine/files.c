/* files.c - the tree of shared files and the apply of its changes.  See
 * files.h.
 *
 * Every node, in the tree or pinned after it left, is in a hash table by
 * id.  A directory keeps its children in an array sorted by name, found
 * by binary search.  Nothing walks the tree by recursion, so the tree
 * needs no depth bound.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"

struct node {
	uint64_t id;
	struct node *hash_next;
	struct node *parent;    /* the directory it is an entry of; NULL for the root and unlinked */
	bool linked;            /* in the tree: the root or an entry of a directory in it */
	char *name;             /* NUL-terminated: its entry in parent */
	size_t name_len;
	enum files_type type;
	uint32_t mode;
	uint32_t uid, gid;
	int64_t mtime_ns;
	int64_t ctime_ns;
	uint64_t pins;
	char *data;             /* a file: size bytes of content, room for cap */
	uint64_t size;
	uint64_t cap;
	struct node **entries;  /* a directory: count children sorted by name, room for room */
	size_t count;
	size_t room;
	size_t subdirs;         /* entries that are directories */
};

struct files {
	struct node *root;
	struct node **buckets;
	size_t nbuckets;        /* a power of two */
	size_t hashed;          /* nodes in the buckets */
	uint64_t nodes;         /* nodes in the tree, the root included */
	struct files_stats stats;
};

#define FIRST_BUCKETS 64

/* --- nodes by id ----------------------------------------------------------- */

static size_t bucket_of(const struct files *files, uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & (files->nbuckets - 1);
}

static struct node *find_any(const struct files *files, uint64_t id)
{
	struct node *n = files->buckets[bucket_of(files, id)];

	while (n && n->id != id)
		n = n->hash_next;
	return n;
}

static struct node *find_linked(const struct files *files, uint64_t id)
{
	struct node *n = find_any(files, id);

	return n && n->linked ? n : NULL;
}

static void hash_insert(struct files *files, struct node *n)
{
	struct node **head = &files->buckets[bucket_of(files, n->id)];

	n->hash_next = *head;
	*head = n;
	files->hashed++;
}

static void hash_remove(struct files *files, struct node *n)
{
	struct node **p = &files->buckets[bucket_of(files, n->id)];

	while (*p != n)
		p = &(*p)->hash_next;
	*p = n->hash_next;
	files->hashed--;
}

/* Makes sure one more node keeps the table at one node a bucket or less. */
static int hash_reserve(struct files *files)
{
	struct node **old = files->buckets;
	size_t old_count = files->nbuckets;
	struct node **buckets;

	if (files->hashed < files->nbuckets)
		return 0;
	buckets = calloc(old_count * 2, sizeof(*buckets));
	if (!buckets)
		return -ENOMEM;
	files->buckets = buckets;
	files->nbuckets = old_count * 2;
	files->hashed = 0;
	for (size_t i = 0; i < old_count; i++) {
		struct node *n = old[i];

		while (n) {
			struct node *next = n->hash_next;

			hash_insert(files, n);
			n = next;
		}
	}
	free(old);
	return 0;
}

/* --- nodes ----------------------------------------------------------------- */

static struct node *node_new(uint64_t id, const char *name, size_t len, enum files_type type,
			     uint32_t mode, int64_t time_ns)
{
	struct node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = malloc(len + 1);
	if (!n->name) {
		free(n);
		return NULL;
	}
	memcpy(n->name, name, len);
	n->name[len] = '\0';
	n->name_len = len;
	n->id = id;
	n->type = type;
	n->mode = mode;
	n->uid = n->gid = FILES_OWNER_DAEMON;
	n->mtime_ns = time_ns;
	n->ctime_ns = time_ns;
	return n;
}

static void node_free(struct node *n)
{
	free(n->data);
	free(n->entries);
	free(n->name);
	free(n);
}

static void set_times(struct node *n, int64_t time_ns)
{
	n->mtime_ns = time_ns;
	n->ctime_ns = time_ns;
}

/* Frees a pinned node that left the tree. */
static void forget(struct files *files, struct node *n)
{
	files->stats.unlinked--;
	files->stats.unlinked_bytes -= n->size;
	hash_remove(files, n);
	node_free(n);
}

/* n, already out of its directory, leaves the tree: freed, or kept while
 * pinned.  It has no entries: only empty directories leave. */
static void detach(struct files *files, struct node *n)
{
	files->nodes--;
	if (n->type == FILES_DIR) {
		files->stats.dirs--;
	} else {
		files->stats.files--;
		files->stats.bytes -= n->size;
	}
	n->linked = false;
	if (n->pins) {
		files->stats.unlinked++;
		files->stats.unlinked_bytes += n->size;
		return;
	}
	hash_remove(files, n);
	node_free(n);
}

/* --- entries --------------------------------------------------------------- */

bool files_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > FILES_NAME_MAX)
		return false;
	if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c == 0x7f || c == '/')
			return false;
	}
	return true;
}

/* Byte order, a name before the longer names it begins. */
static int name_cmp(const char *a, size_t a_len, const char *b, size_t b_len)
{
	int c = memcmp(a, b, a_len < b_len ? a_len : b_len);

	if (c)
		return c;
	return a_len < b_len ? -1 : a_len > b_len;
}

/* *index is where name is in dir, or where it would go.  True when found. */
static bool entry_find(const struct node *dir, const char *name, size_t len, size_t *index)
{
	size_t lo = 0, hi = dir->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct node *e = dir->entries[mid];

		if (name_cmp(e->name, e->name_len, name, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*index = lo;
	return lo < dir->count &&
	       name_cmp(dir->entries[lo]->name, dir->entries[lo]->name_len, name, len) == 0;
}

/* Makes room for one more entry in dir. */
static int entries_reserve(struct node *dir)
{
	size_t room = dir->room ? dir->room * 2 : 8;
	struct node **entries;

	if (dir->count < dir->room)
		return 0;
	entries = realloc(dir->entries, room * sizeof(*entries));
	if (!entries)
		return -ENOMEM;
	dir->entries = entries;
	dir->room = room;
	return 0;
}

/* Needs the room entries_reserve made. */
static void entry_insert(struct node *dir, size_t index, struct node *child)
{
	memmove(&dir->entries[index + 1], &dir->entries[index],
		(dir->count - index) * sizeof(dir->entries[0]));
	dir->entries[index] = child;
	dir->count++;
	if (child->type == FILES_DIR)
		dir->subdirs++;
	child->parent = dir;
}

static struct node *entry_remove(struct node *dir, size_t index)
{
	struct node *child = dir->entries[index];

	memmove(&dir->entries[index], &dir->entries[index + 1],
		(dir->count - index - 1) * sizeof(dir->entries[0]));
	dir->count--;
	if (child->type == FILES_DIR)
		dir->subdirs--;
	child->parent = NULL;
	return child;
}

/* The directory with id in the tree. */
static int find_dir(const struct files *files, uint64_t id, struct node **dir)
{
	*dir = find_linked(files, id);
	if (!*dir)
		return -ENOENT;
	return (*dir)->type == FILES_DIR ? 0 : -ENOTDIR;
}

/* The entry called name in the directory parent of the tree: its
 * directory and index there. */
static int find_entry(const struct files *files, uint64_t parent, const char *name, size_t len,
		      struct node **dir, size_t *index)
{
	int ret = find_dir(files, parent, dir);

	if (ret)
		return ret;
	if (!files_name_valid(name, len))
		return -EINVAL;
	return entry_find(*dir, name, len, index) ? 0 : -ENOENT;
}

/* --- the tree -------------------------------------------------------------- */

struct files *files_new(void)
{
	struct files *files = calloc(1, sizeof(*files));

	if (!files)
		return NULL;
	files->buckets = calloc(FIRST_BUCKETS, sizeof(*files->buckets));
	if (!files->buckets)
		goto out_files;
	files->nbuckets = FIRST_BUCKETS;
	files->root = node_new(FILES_ROOT, "", 0, FILES_DIR, 0755, 0);
	if (!files->root)
		goto out_buckets;
	files->root->linked = true;
	hash_insert(files, files->root);
	files->nodes = 1;
	return files;

out_buckets:
	free(files->buckets);
out_files:
	free(files);
	return NULL;
}

void files_free(struct files *files)
{
	if (!files)
		return;
	for (size_t i = 0; i < files->nbuckets; i++) {
		struct node *n = files->buckets[i];

		while (n) {
			struct node *next = n->hash_next;

			node_free(n);
			n = next;
		}
	}
	free(files->buckets);
	free(files);
}

int files_apply_create(struct files *files, uint64_t id, uint64_t parent, const char *name,
		       size_t len, enum files_type type, uint32_t mode, int64_t time_ns)
{
	struct node *dir, *old, *n;
	size_t index;
	int ret;

	ret = find_dir(files, parent, &dir);
	if (ret)
		return ret;
	if (!files_name_valid(name, len) || (type != FILES_FILE && type != FILES_DIR) ||
	    (mode & ~FILES_MODE_MASK))
		return -EINVAL;
	old = find_any(files, id);
	if (old && old->linked)
		return -EINVAL;
	if (entry_find(dir, name, len, &index))
		return -EEXIST;
	if (files->nodes >= FILES_MAX_NODES)
		return -ENOSPC;
	n = node_new(id, name, len, type, mode, time_ns);
	if (!n)
		return -ENOMEM;
	if (entries_reserve(dir) || (!old && hash_reserve(files))) {
		node_free(n);
		return -ENOMEM;
	}
	if (old) {
		n->pins = old->pins;
		forget(files, old);
	}
	hash_insert(files, n);
	n->linked = true;
	entry_insert(dir, index, n);
	files->nodes++;
	if (type == FILES_DIR)
		files->stats.dirs++;
	else
		files->stats.files++;
	set_times(dir, time_ns);
	return 0;
}

/* --- content --------------------------------------------------------------- */

/* The file with id in the tree. */
static int find_file(const struct files *files, uint64_t id, struct node **file)
{
	*file = find_linked(files, id);
	if (!*file)
		return -ENOENT;
	return (*file)->type == FILES_FILE ? 0 : -EISDIR;
}

/* Checks that the file may grow or shrink to size bytes and makes room
 * for them, changing no byte of its content. */
static int content_room(const struct files *files, struct node *n, uint64_t size)
{
	uint64_t cap;
	char *data;

	if (size > FILES_MAX_FILE_SIZE)
		return -EFBIG;
	if (size > n->size && files->stats.bytes + (size - n->size) > FILES_MAX_BYTES)
		return -ENOSPC;
	if (size <= n->cap)
		return 0;
	/* Doubling keeps a run of appends linear. */
	cap = n->cap * 2 > size ? n->cap * 2 : size;
	if (cap > FILES_MAX_FILE_SIZE)
		cap = FILES_MAX_FILE_SIZE;
	data = realloc(n->data, cap);
	if (!data)
		return -ENOMEM;
	n->data = data;
	n->cap = cap;
	return 0;
}

/* Needs the room content_room made; new bytes are zeros. */
static void content_resize(struct files *files, struct node *n, uint64_t size)
{
	if (size > n->size)
		memset(n->data + n->size, 0, size - n->size);
	files->stats.bytes = files->stats.bytes - n->size + size;
	n->size = size;
}

/* Gives back the memory of a file that shrank to less than half of it;
 * when the system refuses, the file keeps the larger buffer. */
static void content_fit(struct node *n)
{
	char *data;

	if (n->cap <= 2 * n->size)
		return;
	if (n->size == 0) {
		free(n->data);
		n->data = NULL;
		n->cap = 0;
		return;
	}
	data = realloc(n->data, n->size);
	if (data) {
		n->data = data;
		n->cap = n->size;
	}
}

int files_apply_write(struct files *files, uint64_t id, uint64_t offset, const void *data,
		      size_t len, int64_t time_ns)
{
	struct node *n;
	uint64_t end;
	int ret;

	ret = find_file(files, id, &n);
	if (ret || len == 0)
		return ret;
	if (offset > FILES_MAX_FILE_SIZE || len > FILES_MAX_FILE_SIZE - offset)
		return -EFBIG;
	end = offset + len;
	ret = content_room(files, n, end > n->size ? end : n->size);
	if (ret)
		return ret;
	if (end > n->size)
		content_resize(files, n, end);
	memcpy(n->data + offset, data, len);
	set_times(n, time_ns);
	return 0;
}

int files_apply_append(struct files *files, uint64_t id, const void *data, size_t len,
		       int64_t time_ns, uint64_t *offset)
{
	struct node *n;
	uint64_t end_before;
	int ret;

	ret = find_file(files, id, &n);
	if (ret)
		return ret;
	end_before = n->size;
	ret = files_apply_write(files, id, end_before, data, len, time_ns);
	if (!ret)
		*offset = end_before;
	return ret;
}

int files_apply_replace(struct files *files, uint64_t id, const void *data, size_t len,
			int64_t time_ns)
{
	struct node *n;
	int ret;

	ret = find_file(files, id, &n);
	if (ret)
		return ret;
	ret = content_room(files, n, len);
	if (ret)
		return ret;
	if (len)
		memcpy(n->data, data, len);
	files->stats.bytes = files->stats.bytes - n->size + len;
	n->size = len;
	content_fit(n);
	set_times(n, time_ns);
	return 0;
}

int files_apply_truncate(struct files *files, uint64_t id, uint64_t size, int64_t time_ns)
{
	struct node *n;
	int ret;

	ret = find_file(files, id, &n);
	if (ret)
		return ret;
	ret = content_room(files, n, size);
	if (ret)
		return ret;
	content_resize(files, n, size);
	content_fit(n);
	set_times(n, time_ns);
	return 0;
}

/* --- names ----------------------------------------------------------------- */

/* True when dir is n or below it. */
static bool in_subtree(const struct node *dir, const struct node *n)
{
	for (; dir; dir = dir->parent)
		if (dir == n)
			return true;
	return false;
}

/* What replacing target by n would answer; a target that is n is a no-op. */
static int check_replace(const struct node *n, const struct node *target)
{
	if (!target || target == n)
		return 0;
	if (n->type == FILES_DIR && target->type == FILES_FILE)
		return -ENOTDIR;
	if (n->type == FILES_FILE && target->type == FILES_DIR)
		return -EISDIR;
	return target->count ? -ENOTEMPTY : 0;
}

int files_apply_rename(struct files *files, uint64_t old_parent, const char *old_name,
		       size_t old_len, uint64_t new_parent, const char *new_name,
		       size_t new_len, unsigned flags, int64_t time_ns)
{
	struct node *from, *to, *n, *target = NULL;
	size_t index;
	char *name;
	int ret;

	ret = find_dir(files, new_parent, &to);
	if (!ret)
		ret = find_entry(files, old_parent, old_name, old_len, &from, &index);
	if (ret)
		return ret;
	if (!files_name_valid(new_name, new_len) || (flags & ~FILES_RENAME_NOREPLACE))
		return -EINVAL;
	n = from->entries[index];
	if (entry_find(to, new_name, new_len, &index))
		target = to->entries[index];
	if (target && (flags & FILES_RENAME_NOREPLACE))
		return -EEXIST;
	if (n->type == FILES_DIR && in_subtree(to, n))
		return -EINVAL;
	ret = check_replace(n, target);
	if (ret || target == n)
		return ret;
	name = malloc(new_len + 1);
	if (!name)
		return -ENOMEM;
	if (!target && entries_reserve(to)) {
		free(name);
		return -ENOMEM;
	}
	memcpy(name, new_name, new_len);
	name[new_len] = '\0';

	/* Out with the target and n, then n back under its new name: each
	 * removal moves the indices after it, so each is found afresh. */
	if (target) {
		entry_remove(to, index);
		detach(files, target);
	}
	entry_find(from, old_name, old_len, &index);
	entry_remove(from, index);
	free(n->name);
	n->name = name;
	n->name_len = new_len;
	entry_find(to, new_name, new_len, &index);
	entry_insert(to, index, n);
	n->ctime_ns = time_ns;
	set_times(from, time_ns);
	set_times(to, time_ns);
	return 0;
}

/* Removes the entry called name of type from parent. */
static int remove_entry(struct files *files, uint64_t parent, const char *name, size_t len,
			enum files_type type, int64_t time_ns)
{
	struct node *dir, *n;
	size_t index;
	int ret;

	ret = find_entry(files, parent, name, len, &dir, &index);
	if (ret)
		return ret;
	n = dir->entries[index];
	if (n->type != type)
		return type == FILES_FILE ? -EISDIR : -ENOTDIR;
	if (n->count)
		return -ENOTEMPTY;
	entry_remove(dir, index);
	detach(files, n);
	set_times(dir, time_ns);
	return 0;
}

int files_apply_unlink(struct files *files, uint64_t parent, const char *name, size_t len,
		       int64_t time_ns)
{
	return remove_entry(files, parent, name, len, FILES_FILE, time_ns);
}

int files_apply_rmdir(struct files *files, uint64_t parent, const char *name, size_t len,
		      int64_t time_ns)
{
	return remove_entry(files, parent, name, len, FILES_DIR, time_ns);
}

int files_apply_setattr(struct files *files, uint64_t id, unsigned what, uint32_t mode,
			int64_t mtime_ns, int64_t time_ns)
{
	struct node *n = find_linked(files, id);

	if (!n)
		return -ENOENT;
	if ((what & ~(FILES_SET_MODE | FILES_SET_MTIME)) ||
	    ((what & FILES_SET_MODE) && (mode & ~FILES_MODE_MASK)))
		return -EINVAL;
	if (what & FILES_SET_MODE)
		n->mode = mode;
	if (what & FILES_SET_MTIME)
		n->mtime_ns = mtime_ns;
	n->ctime_ns = time_ns;
	return 0;
}

int files_apply_owner(struct files *files, uint64_t id, uint32_t uid, uint32_t gid,
		      int64_t time_ns)
{
	struct node *n = find_linked(files, id);

	if (!n)
		return -ENOENT;
	n->uid = uid;
	n->gid = gid;
	n->ctime_ns = time_ns;
	return 0;
}

/* --- pins ------------------------------------------------------------------ */

int files_pin(struct files *files, uint64_t id)
{
	struct node *n = find_any(files, id);

	if (!n)
		return -ENOENT;
	n->pins++;
	return 0;
}

int files_unpin(struct files *files, uint64_t id)
{
	struct node *n = find_any(files, id);

	if (!n)
		return -ENOENT;
	if (!n->pins)
		return -EINVAL;
	n->pins--;
	if (!n->pins && !n->linked)
		forget(files, n);
	return 0;
}

/* --- looks ----------------------------------------------------------------- */

int files_lookup(const struct files *files, uint64_t parent, const char *name, size_t len,
		 uint64_t *id)
{
	struct node *dir;
	size_t index;
	int ret = find_entry(files, parent, name, len, &dir, &index);

	if (ret)
		return ret == -EINVAL ? -ENOENT : ret;
	*id = dir->entries[index]->id;
	return 0;
}

int files_attr(const struct files *files, uint64_t id, struct files_attr *out)
{
	const struct node *n = find_any(files, id);

	if (!n)
		return -ENOENT;
	out->type = n->type;
	out->mode = n->mode;
	out->uid = n->uid;
	out->gid = n->gid;
	out->size = n->type == FILES_FILE ? n->size : 0;
	if (!n->linked)
		out->nlink = 0;
	else
		out->nlink = n->type == FILES_FILE ? 1 : 2 + (uint32_t)n->subdirs;
	out->mtime_ns = n->mtime_ns;
	out->ctime_ns = n->ctime_ns;
	return 0;
}

ssize_t files_read(const struct files *files, uint64_t id, uint64_t offset, void *buf,
		   size_t size)
{
	const struct node *n = find_any(files, id);
	uint64_t left;

	if (!n)
		return -ENOENT;
	if (n->type != FILES_FILE)
		return -EISDIR;
	if (offset >= n->size)
		return 0;
	left = n->size - offset;
	if (size > left)
		size = (size_t)left;
	memcpy(buf, n->data + offset, size);
	return (ssize_t)size;
}

int files_readdir(const struct files *files, uint64_t dir, const char *after_name,
		  size_t after_len,
		  int (*fn)(void *arg, const char *name, size_t len, uint64_t id,
			    enum files_type type),
		  void *arg)
{
	const struct node *d = find_any(files, dir);
	size_t index = 0;
	int ret = 0;

	if (!d)
		return -ENOENT;
	if (d->type != FILES_DIR)
		return -ENOTDIR;
	if (after_name && entry_find(d, after_name, after_len, &index))
		index++;
	for (; !ret && index < d->count; index++) {
		const struct node *e = d->entries[index];

		ret = fn(arg, e->name, e->name_len, e->id, e->type);
	}
	return ret;
}

void files_get_stats(const struct files *files, struct files_stats *out)
{
	*out = files->stats;
}

/* --- snapshot -------------------------------------------------------------- */

int files_apply_step(struct files *files, const struct files_step *s)
{
	int ret;

	switch (s->kind) {
	case FILES_STEP_CREATE:
		ret = files_apply_create(files, s->id, s->parent, s->name, s->name_len, s->type,
					 s->mode, s->time_ns);
		return ret ? ret : files_apply_owner(files, s->id, s->uid, s->gid, s->time_ns);
	case FILES_STEP_WRITE:
		return files_apply_write(files, s->id, s->offset, s->data, s->len, s->time_ns);
	case FILES_STEP_SETATTR:
		return files_apply_setattr(files, s->id, FILES_SET_MODE | FILES_SET_MTIME, s->mode,
					   s->mtime_ns, s->time_ns);
	}
	return -EINVAL;
}

/* The CREATE of n and the WRITE of its content. */
static int dump_node(const struct node *n,
		     int (*emit)(void *arg, const struct files_step *step), void *arg)
{
	struct files_step s = {
		.kind = FILES_STEP_CREATE, .id = n->id, .parent = n->parent->id,
		.name = n->name, .name_len = n->name_len, .type = n->type, .mode = n->mode,
		.uid = n->uid, .gid = n->gid, .time_ns = n->ctime_ns,
	};
	int ret = emit(arg, &s);

	for (uint64_t offset = 0; !ret && offset < n->size; offset += FILES_DUMP_PIECE) {
		uint64_t left = n->size - offset;

		s = (struct files_step){
			.kind = FILES_STEP_WRITE, .id = n->id, .offset = offset,
			.data = n->data + offset,
			.len = left < FILES_DUMP_PIECE ? (size_t)left : FILES_DUMP_PIECE,
			.time_ns = n->ctime_ns,
		};
		ret = emit(arg, &s);
	}
	return ret;
}

int files_dump(const struct files *files,
	       int (*emit)(void *arg, const struct files_step *step), void *arg)
{
	const struct node **order;
	size_t head = 0, tail = 0;
	int ret = 0;

	/* Level by level: the order lists each directory before its entries. */
	order = malloc(files->nodes * sizeof(*order));
	if (!order)
		return -ENOMEM;
	order[tail++] = files->root;
	while (head < tail) {
		const struct node *d = order[head++];

		for (size_t i = 0; i < d->count; i++)
			order[tail++] = d->entries[i];
	}
	for (size_t i = 1; !ret && i < tail; i++)
		ret = dump_node(order[i], emit, arg);
	for (size_t i = 0; !ret && i < tail; i++) {
		struct files_step s = {
			.kind = FILES_STEP_SETATTR, .id = order[i]->id, .mode = order[i]->mode,
			.mtime_ns = order[i]->mtime_ns, .time_ns = order[i]->ctime_ns,
		};

		ret = emit(arg, &s);
	}
	free(order);
	return ret;
}
