/* tickets.c - the ticket table.  See tickets.h.
 *
 * The files with a lock or a request are an array sorted by key; each
 * keeps its granted locks (in the order they were made) and its queue
 * (oldest first) in two arrays.  A file's locks have room for two more per
 * queued request at all times, so a grant from the queue never allocates
 * and the releases that cause grants cannot fail.  The ids of the queued
 * requests are also kept sorted, with their file, so that finding one
 * (every lock call checks its id is free) does not visit every file.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tickets.h"

struct ticket_file {
	uint64_t key;
	struct ticket_req *locks;  /* granted */
	size_t nlocks, locks_cap;  /* locks_cap >= nlocks + 2 * nqueued */
	struct ticket_req *queue;  /* waiting, oldest first */
	size_t nqueued, queue_cap;
};

/* A queued request by id. */
struct queued_ref {
	uint64_t id;
	uint64_t file;
};

struct tickets {
	struct ticket_file **files; /* sorted by key; none empty */
	size_t nfiles, files_cap;
	struct queued_ref *queued;  /* one per queued request, sorted by id */
	size_t queued_cap;
	uint64_t nlocks, nqueued;   /* in all files */
	int64_t longest_wait_ns;
	tickets_observer_fn observer;
	void *observer_arg;
};

struct tickets *tickets_new(void)
{
	return calloc(1, sizeof(struct tickets));
}

static void file_free(struct ticket_file *f)
{
	free(f->locks);
	free(f->queue);
	free(f);
}

void tickets_free(struct tickets *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nfiles; i++)
		file_free(t->files[i]);
	free(t->files);
	free(t->queued);
	free(t);
}

void tickets_observe(struct tickets *t, tickets_observer_fn fn, void *arg)
{
	t->observer = fn;
	t->observer_arg = arg;
}

/* ---- who conflicts ----------------------------------------------------- */

static bool valid(const struct ticket_req *r)
{
	if (r->kind != TICKET_FLOCK && r->kind != TICKET_POSIX)
		return false;
	if (r->mode != TICKET_SHARED && r->mode != TICKET_EXCLUSIVE)
		return false;
	return r->kind == TICKET_FLOCK || r->start <= r->end;
}

/* req with the whole file as its range when it is a flock. */
static struct ticket_req normalized(const struct ticket_req *req)
{
	struct ticket_req r = *req;

	if (r.kind == TICKET_FLOCK) {
		r.start = 0;
		r.end = TICKETS_TO_END;
	}
	return r;
}

static bool same_owner(const struct ticket_req *a, const struct ticket_req *b)
{
	return a->kind == b->kind && a->session == b->session && a->owner == b->owner;
}

static bool overlap(const struct ticket_req *a, const struct ticket_req *b)
{
	return a->start <= b->end && b->start <= a->end;
}

/* Both on one file is the caller's business (they are in one file's arrays). */
static bool conflict(const struct ticket_req *a, const struct ticket_req *b)
{
	return a->kind == b->kind && !same_owner(a, b) && overlap(a, b) &&
	       (a->mode == TICKET_EXCLUSIVE || b->mode == TICKET_EXCLUSIVE);
}

/* The first granted lock of f that conflicts with r, or NULL. */
static const struct ticket_req *conflicting_lock(const struct ticket_file *f,
						 const struct ticket_req *r)
{
	for (size_t i = 0; i < f->nlocks; i++)
		if (conflict(&f->locks[i], r))
			return &f->locks[i];
	return NULL;
}

/* True when one of the first n queued requests of f conflicts with r. */
static bool held_back(const struct ticket_file *f, const struct ticket_req *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (conflict(&f->queue[i], r))
			return true;
	return false;
}

/* True when r's owner holds a lock of r's kind on f. */
static bool holds(const struct ticket_file *f, const struct ticket_req *r)
{
	for (size_t i = 0; i < f->nlocks; i++)
		if (same_owner(&f->locks[i], r))
			return true;
	return false;
}

/* True when r, behind the first ahead queued requests of f, can be granted
 * now (the rule of tickets.h). */
static bool grantable(const struct ticket_file *f, const struct ticket_req *r, size_t ahead)
{
	if (conflicting_lock(f, r))
		return false;
	return holds(f, r) || !held_back(f, r, ahead);
}

/* True when granting or unlocking r cuts one of its owner's locks in two. */
static bool splits(const struct ticket_file *f, const struct ticket_req *r)
{
	for (size_t i = 0; i < f->nlocks; i++) {
		const struct ticket_req *h = &f->locks[i];

		if (same_owner(h, r) && h->start < r->start && h->end > r->end)
			return true;
	}
	return false;
}

/* ---- files and their arrays ------------------------------------------- */

/* The index of the first file whose key is not below key. */
static size_t file_pos(const struct tickets *t, uint64_t key)
{
	size_t lo = 0, hi = t->nfiles;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->files[mid]->key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct ticket_file *file_of(const struct tickets *t, uint64_t key)
{
	size_t pos = file_pos(t, key);

	return pos < t->nfiles && t->files[pos]->key == key ? t->files[pos] : NULL;
}

/* The file key, added empty if it has nothing yet.  Returns 0 or -ENOMEM. */
static int file_open(struct tickets *t, uint64_t key, struct ticket_file **out)
{
	size_t pos = file_pos(t, key);
	struct ticket_file *f;

	if (pos < t->nfiles && t->files[pos]->key == key) {
		*out = t->files[pos];
		return 0;
	}
	if (t->nfiles == t->files_cap) {
		size_t cap = t->files_cap ? 2 * t->files_cap : 16;
		struct ticket_file **files = realloc(t->files, cap * sizeof(*files));

		if (!files)
			return -ENOMEM;
		t->files = files;
		t->files_cap = cap;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->key = key;
	memmove(&t->files[pos + 1], &t->files[pos], (t->nfiles - pos) * sizeof(*t->files));
	t->files[pos] = f;
	t->nfiles++;
	*out = f;
	return 0;
}

/* Frees f and takes it out of the table when it holds nothing: so that
 * equal tables have equal files whatever their history. */
static void file_close_if_empty(struct tickets *t, struct ticket_file *f)
{
	size_t pos;

	if (f->nlocks || f->nqueued)
		return;
	pos = file_pos(t, f->key);
	memmove(&t->files[pos], &t->files[pos + 1], (t->nfiles - pos - 1) * sizeof(*t->files));
	t->nfiles--;
	file_free(f);
}

/* Makes room in *v (capacity *cap) for need entries.  Returns 0 or -ENOMEM. */
static int grow(struct ticket_req **v, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 4;
	struct ticket_req *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = realloc(*v, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = n;
	return 0;
}

/* Room in f for locks more locks and queued more requests, besides the two
 * locks kept for each request already queued.  Returns 0 or -ENOMEM. */
static int reserve(struct tickets *t, struct ticket_file *f, size_t locks, size_t queued)
{
	size_t lock_need = f->nlocks + 2 * (f->nqueued + queued) + locks;

	if (grow(&f->locks, &f->locks_cap, lock_need))
		return -ENOMEM;
	if (grow(&f->queue, &f->queue_cap, f->nqueued + queued))
		return -ENOMEM;
	if (t->nqueued + queued > t->queued_cap) {
		size_t cap = t->queued_cap ? 2 * t->queued_cap : 16;
		struct queued_ref *refs;

		while (cap < t->nqueued + queued)
			cap *= 2;
		refs = realloc(t->queued, cap * sizeof(*refs));
		if (!refs)
			return -ENOMEM;
		t->queued = refs;
		t->queued_cap = cap;
	}
	return 0;
}

/* The index in t->queued of the first id not below id. */
static size_t queued_pos(const struct tickets *t, uint64_t id)
{
	size_t lo = 0, hi = t->nqueued;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->queued[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* What TICKETS_MAX and TICKETS_FILE_MAX bound. */
static uint64_t load(uint64_t nlocks, uint64_t nqueued)
{
	return nlocks + TICKETS_REQUEST_WEIGHT * nqueued;
}

/* True when t, and f (NULL: a file with nothing yet), have room for n more. */
static bool room(const struct tickets *t, const struct ticket_file *f, uint64_t n)
{
	uint64_t in_file = f ? load(f->nlocks, f->nqueued) : 0;

	return load(t->nlocks, t->nqueued) + n <= TICKETS_MAX && in_file + n <= TICKETS_FILE_MAX;
}

/* The four changes of a file's arrays, which keep the table's counts.  The
 * room was reserved before. */
static void add_lock(struct tickets *t, struct ticket_file *f, const struct ticket_req *r)
{
	assert(f->nlocks < f->locks_cap);
	f->locks[f->nlocks++] = *r;
	t->nlocks++;
}

static void remove_lock(struct tickets *t, struct ticket_file *f, size_t i)
{
	memmove(&f->locks[i], &f->locks[i + 1], (f->nlocks - i - 1) * sizeof(*f->locks));
	f->nlocks--;
	t->nlocks--;
}

static void add_queued(struct tickets *t, struct ticket_file *f, const struct ticket_req *r)
{
	size_t pos = queued_pos(t, r->id);

	assert(f->nqueued < f->queue_cap && t->nqueued < t->queued_cap);
	f->queue[f->nqueued++] = *r;
	memmove(&t->queued[pos + 1], &t->queued[pos], (t->nqueued - pos) * sizeof(*t->queued));
	t->queued[pos] = (struct queued_ref){ .id = r->id, .file = f->key };
	t->nqueued++;
}

static void remove_queued(struct tickets *t, struct ticket_file *f, size_t i)
{
	size_t pos = queued_pos(t, f->queue[i].id);

	memmove(&t->queued[pos], &t->queued[pos + 1], (t->nqueued - pos - 1) * sizeof(*t->queued));
	t->nqueued--;
	memmove(&f->queue[i], &f->queue[i + 1], (f->nqueued - i - 1) * sizeof(*f->queue));
	f->nqueued--;
}

static void tell(const struct tickets *t, const struct ticket_req *r, bool granted,
		 int64_t waited_ns)
{
	if (t->observer)
		t->observer(t->observer_arg, r, granted, waited_ns);
}

/* ---- granting ------------------------------------------------------------ */

/* Takes r's range out of the locks of r's owner: a lock inside it goes, a
 * lock across an edge is trimmed, a lock around it is cut in two.
 * Returns true when something changed. */
static bool cut(struct tickets *t, struct ticket_file *f, const struct ticket_req *r)
{
	bool changed = false;

	for (size_t i = 0; i < f->nlocks;) {
		struct ticket_req *h = &f->locks[i];

		if (!same_owner(h, r) || !overlap(h, r)) {
			i++;
			continue;
		}
		changed = true;
		if (h->start < r->start && h->end > r->end) {
			struct ticket_req right = *h;

			right.start = r->end + 1;
			h->end = r->start - 1;
			add_lock(t, f, &right);
			i++;
		} else if (h->start < r->start) {
			h->end = r->start - 1;
			i++;
		} else if (h->end > r->end) {
			h->start = r->end + 1;
			i++;
		} else {
			remove_lock(t, f, i);
		}
	}
	return changed;
}

/* True when a and b are next to each other without a gap. */
static bool touch(const struct ticket_req *a, const struct ticket_req *b)
{
	return (a->end != TICKETS_TO_END && a->end + 1 == b->start) ||
	       (b->end != TICKETS_TO_END && b->end + 1 == a->start);
}

/* Grants r at now: it replaces its owner's locks over its range and takes
 * in those of the same mode that it touches.  Needs room for two locks. */
static void grant(struct tickets *t, struct ticket_file *f, const struct ticket_req *r,
		  int64_t now)
{
	struct ticket_req lock = *r;

	cut(t, f, r);
	for (size_t i = 0; i < f->nlocks;) {
		const struct ticket_req *h = &f->locks[i];

		if (same_owner(h, &lock) && h->mode == lock.mode && touch(h, &lock)) {
			lock.start = h->start < lock.start ? h->start : lock.start;
			lock.end = h->end > lock.end ? h->end : lock.end;
			remove_lock(t, f, i);
		} else {
			i++;
		}
	}
	lock.time_ns = now;
	add_lock(t, f, &lock);
}

/* From asked to granted, 0 if the clock went back, saturated: the times
 * come from records, which may come from a damaged journal. */
static int64_t wait_between(int64_t asked, int64_t granted)
{
	uint64_t d;

	if (granted <= asked)
		return 0;
	d = (uint64_t)granted - (uint64_t)asked;
	return d > INT64_MAX ? INT64_MAX : (int64_t)d;
}

/* Grants, in queue order, every queued request of f that can be granted,
 * again until none can: a grant can itself let another through (a
 * conversion frees a range, a new holder passes the queue). */
static void settle(struct tickets *t, struct ticket_file *f, int64_t now)
{
	bool granted;

	do {
		granted = false;
		for (size_t i = 0; i < f->nqueued;) {
			struct ticket_req r = f->queue[i];
			int64_t waited = wait_between(r.time_ns, now);

			if (!grantable(f, &r, i)) {
				i++;
				continue;
			}
			remove_queued(t, f, i);
			grant(t, f, &r, now);
			if (waited > t->longest_wait_ns)
				t->longest_wait_ns = waited;
			tell(t, &r, true, waited);
			granted = true;
		}
	} while (granted);
}

int tickets_lock(struct tickets *t, const struct ticket_req *req, bool wait)
{
	struct ticket_file *f;
	struct ticket_req r;
	bool now;
	int rc;

	if (!valid(req))
		return -EINVAL;
	r = normalized(req);
	if (tickets_is_queued(t, r.id))
		return -EEXIST;
	f = file_of(t, r.file);
	now = !f || grantable(f, &r, f->nqueued);
	if (!now && !wait)
		return -EAGAIN;
	if (!room(t, f, now ? 1 + (f && splits(f, &r)) : TICKETS_REQUEST_WEIGHT))
		return -ENOLCK;
	rc = file_open(t, r.file, &f);
	if (rc)
		return rc;
	rc = reserve(t, f, 2, 1);
	if (rc) {
		file_close_if_empty(t, f);
		return rc;
	}
	if (!now && r.kind == TICKET_FLOCK && holds(f, &r)) {
		cut(t, f, &r);
		settle(t, f, r.time_ns);
		now = grantable(f, &r, f->nqueued);
	}
	if (!now) {
		add_queued(t, f, &r);
		return 1;
	}
	grant(t, f, &r, r.time_ns);
	settle(t, f, r.time_ns);
	return 0;
}

int tickets_unlock(struct tickets *t, const struct ticket_req *req)
{
	struct ticket_file *f;
	struct ticket_req r;

	if (!valid(req))
		return -EINVAL;
	r = normalized(req);
	f = file_of(t, r.file);
	if (!f)
		return 0;
	if (splits(f, &r)) {
		if (!room(t, f, 1))
			return -ENOLCK;
		if (reserve(t, f, 1, 0))
			return -ENOMEM;
	}
	if (cut(t, f, &r))
		settle(t, f, r.time_ns);
	file_close_if_empty(t, f);
	return 0;
}

/* ---- releasing ------------------------------------------------------------ */

typedef bool (*match_fn)(const struct ticket_req *r, const struct ticket_req *key);

static bool match_owner(const struct ticket_req *r, const struct ticket_req *key)
{
	return same_owner(r, key);
}

static bool match_session(const struct ticket_req *r, const struct ticket_req *key)
{
	return r->session == key->session;
}

/* Removes every lock and queued request of f that matches key, then grants
 * what that lets through.  Returns how many went. */
static size_t release(struct tickets *t, struct ticket_file *f, match_fn match,
		      const struct ticket_req *key, int64_t now)
{
	size_t gone = 0;

	for (size_t i = 0; i < f->nlocks;) {
		if (match(&f->locks[i], key)) {
			remove_lock(t, f, i);
			gone++;
		} else {
			i++;
		}
	}
	for (size_t i = 0; i < f->nqueued;) {
		struct ticket_req r = f->queue[i];

		if (match(&r, key)) {
			remove_queued(t, f, i);
			tell(t, &r, false, 0);
			gone++;
		} else {
			i++;
		}
	}
	if (gone)
		settle(t, f, now);
	return gone;
}

size_t tickets_release_owner(struct tickets *t, uint64_t file, enum ticket_kind kind,
			     uint64_t session, uint64_t owner, int64_t time_ns)
{
	struct ticket_req key = { .kind = kind, .session = session, .owner = owner };
	struct ticket_file *f = file_of(t, file);
	size_t gone;

	if (!f)
		return 0;
	gone = release(t, f, match_owner, &key, time_ns);
	file_close_if_empty(t, f);
	return gone;
}

size_t tickets_release_session(struct tickets *t, uint64_t session, int64_t time_ns)
{
	struct ticket_req key = { .session = session };
	size_t gone = 0, kept = 0;

	/* One pass that keeps the files with something left, rather than
	 * file_close_if_empty per file: a session may hold every file. */
	for (size_t i = 0; i < t->nfiles; i++) {
		struct ticket_file *f = t->files[i];

		gone += release(t, f, match_session, &key, time_ns);
		if (f->nlocks || f->nqueued)
			t->files[kept++] = f;
		else
			file_free(f);
	}
	t->nfiles = kept;
	return gone;
}

/* The file and index of the queued request id: true, or false if none. */
static bool find_queued(const struct tickets *t, uint64_t id, struct ticket_file **file,
			size_t *index)
{
	size_t pos = queued_pos(t, id);
	struct ticket_file *f;

	if (pos == t->nqueued || t->queued[pos].id != id)
		return false;
	f = file_of(t, t->queued[pos].file);
	for (size_t j = 0; j < f->nqueued; j++) {
		if (f->queue[j].id == id) {
			*file = f;
			*index = j;
			return true;
		}
	}
	return false;
}

int tickets_cancel(struct tickets *t, uint64_t id, int64_t time_ns)
{
	struct ticket_file *f;
	struct ticket_req r;
	size_t i;

	if (!find_queued(t, id, &f, &i))
		return -ENOENT;
	r = f->queue[i];
	remove_queued(t, f, i);
	tell(t, &r, false, 0);
	settle(t, f, time_ns);
	file_close_if_empty(t, f);
	return 0;
}

/* ---- looking ------------------------------------------------------------- */

bool tickets_conflict(const struct tickets *t, const struct ticket_req *req,
		      struct ticket_req *holder)
{
	const struct ticket_req *h;
	const struct ticket_file *f;
	struct ticket_req r;

	if (!valid(req))
		return false;
	r = normalized(req);
	f = file_of(t, r.file);
	h = f ? conflicting_lock(f, &r) : NULL;
	if (h && holder)
		*holder = *h;
	return h != NULL;
}

bool tickets_owner_has(const struct tickets *t, uint64_t file, enum ticket_kind kind,
		       uint64_t session, uint64_t owner)
{
	const struct ticket_file *f = file_of(t, file);
	struct ticket_req key = { .kind = kind, .session = session, .owner = owner };

	for (size_t i = 0; f && i < f->nlocks; i++)
		if (same_owner(&f->locks[i], &key))
			return true;
	for (size_t i = 0; f && i < f->nqueued; i++)
		if (same_owner(&f->queue[i], &key))
			return true;
	return false;
}

bool tickets_is_queued(const struct tickets *t, uint64_t id)
{
	struct ticket_file *f;
	size_t i;

	return find_queued(t, id, &f, &i);
}

void tickets_stats(const struct tickets *t, struct ticket_stats *s)
{
	bool any = false;

	memset(s, 0, sizeof(*s));
	s->held = t->nlocks;
	s->waiting = t->nqueued;
	s->files = t->nfiles;
	s->longest_wait_ns = t->longest_wait_ns;
	for (size_t i = 0; i < t->nfiles; i++) {
		const struct ticket_file *f = t->files[i];

		for (size_t j = 0; j < f->nqueued; j++) {
			if (!any || f->queue[j].time_ns < s->oldest_request_ns)
				s->oldest_request_ns = f->queue[j].time_ns;
			any = true;
		}
	}
}

/* ---- snapshots ----------------------------------------------------------- */

int tickets_dump(const struct tickets *t,
		 int (*emit)(void *arg, const struct ticket_req *req, bool granted), void *arg)
{
	for (size_t i = 0; i < t->nfiles; i++) {
		const struct ticket_file *f = t->files[i];
		int rc;

		for (size_t j = 0; j < f->nlocks; j++) {
			rc = emit(arg, &f->locks[j], true);
			if (rc)
				return rc;
		}
		for (size_t j = 0; j < f->nqueued; j++) {
			rc = emit(arg, &f->queue[j], false);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* True when lock r could not be in a table: it conflicts with a granted
 * lock of f or overlaps one of its owner's, which no grant leaves. */
static bool impossible_lock(const struct ticket_file *f, const struct ticket_req *r)
{
	for (size_t i = 0; i < f->nlocks; i++) {
		const struct ticket_req *h = &f->locks[i];

		if (conflict(h, r) || (same_owner(h, r) && overlap(h, r)))
			return true;
	}
	return false;
}

int tickets_restore(struct tickets *t, const struct ticket_req *req, bool granted)
{
	struct ticket_file *f;
	struct ticket_req r;
	int rc;

	if (!valid(req))
		return -EINVAL;
	r = normalized(req);
	f = file_of(t, r.file);
	if (granted && f && impossible_lock(f, &r))
		return -EINVAL;
	if (!granted && tickets_is_queued(t, r.id))
		return -EEXIST;
	if (!room(t, f, granted ? 1 : TICKETS_REQUEST_WEIGHT))
		return -ENOLCK;
	rc = file_open(t, r.file, &f);
	if (rc)
		return rc;
	rc = granted ? reserve(t, f, 1, 0) : reserve(t, f, 0, 1);
	if (rc) {
		file_close_if_empty(t, f);
		return rc;
	}
	if (granted)
		add_lock(t, f, &r);
	else
		add_queued(t, f, &r);
	return 0;
}

void tickets_restore_longest_wait(struct tickets *t, int64_t ns)
{
	t->longest_wait_ns = ns;
}
