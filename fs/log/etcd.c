/* etcd.c - the log kept in an etcd cluster.  See etcd.h and log.h.
 *
 * Threads: one sender (group commit: it takes every queued proposal into
 * one frame and puts it, one put at a time), one watcher (delivers every
 * revision in order, the only caller of deliver and load after
 * log_follow), one keeper (the lease's keep-alives).  Each has its own
 * keep-alive connection, and so have the linearizable reads' ranges (one
 * at a time, read_conn); ctl_conn (under ctl_lock) serves the rest:
 * snapshots, stats.
 *
 * Lock order: deliver_lock (one revision being delivered, or a snapshot
 * being saved or loaded), then lock (proposals, applied revision,
 * counters).
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <zlib.h>

#include "etcd.h"
#include "etcd_frame.h"
#include "etcd_http.h"

#define GATHER_US 500             /* a frame waits this long at most: see gather */
#define FRAME_GROUP (64u << 10)   /* proposals grouped into one frame up to this */
#define CHUNK_BYTES (64u << 10)   /* of a snapshot */
#define CHUNKS_PER_RANGE 16
#define RECORDS_PER_REVISION 65536
#define CLOSE_TIMEOUT_MS 2000
#define STATS_TIMEOUT_MS 1000
#define KEEPALIVE_TRY_MS 500      /* one try of a keep-alive at one member */
#define WATCHDOG_MS 500           /* how often the keeper looks at the watch */
#define STUCK_MS 1500             /* a watch this far behind a known put is left */

struct proposal {
	struct proposal *next;
	uint64_t ticket;
	void *rec;
	size_t len;
	uint64_t batch;    /* 0 while queued; then the frame it went in */
	uint32_t index;    /* its place in that frame */
	int64_t deadline_ms;
	bool done;
	int err;
	uint64_t position;
};

struct etcd_log {
	struct log log;
	struct etcd_cluster *cluster;
	char *prefix;
	char *key_log, *key_members, *key_manifest, *key_snap;
	char *b64_log, *b64_watch_end, *b64_manifest;
	unsigned timeout_ms, lease_s;
	bool local_reads;
	unsigned long compact_bytes;
	log_etcd_notice_fn notice;
	void *notice_arg;
	uint64_t proposer;         /* this mount's id in frames and its member key */
	int64_t lease;

	pthread_mutex_t ctl_lock;
	struct etcd_conn *ctl_conn; /* under ctl_lock */

	pthread_mutex_t lock;
	pthread_cond_t changed;    /* a proposal done, a revision applied, stopping */
	pthread_cond_t work;       /* a proposal queued, stopping */
	struct proposal *head, *tail; /* under lock, in ticket order */
	size_t queued;             /* under lock: proposals not yet in a frame */
	uint64_t next_ticket, next_batch; /* under lock */
	uint64_t applied_rev;      /* under lock (written under deliver_lock too) */
	uint64_t tail_seen;        /* under lock: the newest revision of the log key we know */
	int64_t tail_seen_ms;      /* under lock: since when */
	uint64_t snapshot_rev;     /* under lock */
	bool stopping, following, lease_lost; /* under lock */
	uint64_t started_rounds, done_rounds, round_tail; /* under lock: catch-up */
	int round_err;             /* under lock */
	uint64_t proposals, puts, put_failures, catch_ups, frames_skipped; /* under lock */
	unsigned long bytes_since_snapshot; /* under lock */

	pthread_mutex_t deliver_lock;
	log_deliver_fn deliver;
	log_load_fn load;
	void *arg;
	uint64_t last_position;    /* under deliver_lock */
	bool reload;               /* watcher only: the watch was compacted away */

	struct etcd_conn *send_conn, *watch_conn, *keep_conn, *read_conn;
	pthread_t sender, watcher, keeper;
	bool sending, watching, keeping;
	bool stop_flag;            /* atomic: the log closes */
	bool watch_abort;          /* atomic: ends the watch stream (set with stop_flag) */
};

static const struct log_ops etcd_ops;

static struct etcd_log *of(struct log *log)
{
	return (struct etcd_log *)log;
}

static void say(struct etcd_log *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct etcd_log *e, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (!e->notice)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	e->notice(e->notice_arg, line);
}

static int64_t deadline_in(unsigned ms)
{
	return etcd_now_ms() + (int64_t)ms;
}

static void deadline_timespec(int64_t deadline_ms, struct timespec *ts)
{
	int64_t now = etcd_now_ms(), left = deadline_ms > now ? deadline_ms - now : 0;

	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += left / 1000;
	ts->tv_nsec += (left % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* A call whose JSON body is built from a format; the answer is put unless
 * reply is given. */
static int call(struct etcd_conn *conn, const char *path, int64_t deadline_ms,
		struct json_object **reply, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int call(struct etcd_conn *conn, const char *path, int64_t deadline_ms,
		struct json_object **reply, const char *fmt, ...)
{
	struct json_object *answer = NULL;
	char *body;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&body, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return -ENOMEM;
	ret = etcd_call(conn, path, body, deadline_ms, &answer);
	free(body);
	if (!ret && reply)
		*reply = answer;
	else if (!ret)
		json_object_put(answer);
	return ret;
}

/* The bytes of a base64 field of o, NUL-terminated; NULL when missing. */
static void *field_bytes(struct json_object *o, const char *name, size_t *len)
{
	struct json_object *v = etcd_json_get(o, name);
	void *data;

	*len = 0;
	if (!v || etcd_unb64(json_object_get_string(v), &data, len))
		return NULL;
	return data;
}

/* --- keys --------------------------------------------------------------------- */

static char *joined(const char *a, const char *b)
{
	char *s;

	return asprintf(&s, "%s%s", a, b) < 0 ? NULL : s;
}

static char *b64_of(const char *key)
{
	return key ? etcd_b64(key, strlen(key)) : NULL;
}

static int make_keys(struct etcd_log *e, const char *prefix)
{
	char *watch_end;

	e->prefix = strdup(prefix ? prefix : "rwfs/");
	if (!e->prefix)
		return -ENOMEM;
	e->key_log = joined(e->prefix, "log");
	e->key_members = joined(e->prefix, "members/");
	e->key_manifest = joined(e->prefix, "snap/manifest");
	e->key_snap = joined(e->prefix, "snap/");
	/* One watch sees both the log and the members: [log, members0). */
	watch_end = joined(e->prefix, "members0");
	e->b64_log = b64_of(e->key_log);
	e->b64_watch_end = b64_of(watch_end);
	e->b64_manifest = b64_of(e->key_manifest);
	free(watch_end);
	if (!e->key_log || !e->key_members || !e->key_manifest || !e->key_snap || !e->b64_log ||
	    !e->b64_watch_end || !e->b64_manifest)
		return -ENOMEM;
	return 0;
}

/* --- snapshots ------------------------------------------------------------------ */

/* Chunks are keyed by revision and proposer, snap/REV/PROPOSER/K: two
 * mounts that snapshot at the same revision write apart, and the one whose
 * manifest lost drops only its own. */
struct manifest {
	unsigned long long rev, position;
	unsigned chunks;
	size_t len;
	unsigned crc;
	unsigned long long proposer;
};

static int read_manifest(struct etcd_conn *conn, struct etcd_log *e, int64_t deadline,
			 struct manifest *m)
{
	struct json_object *reply, *kvs;
	char *text;
	size_t len;
	int ret;

	memset(m, 0, sizeof(*m));
	ret = call(conn, "/v3/kv/range", deadline, &reply, "{\"key\":\"%s\"}", e->b64_manifest);
	if (ret)
		return ret;
	kvs = etcd_json_get(reply, "kvs");
	text = kvs ? field_bytes(json_object_array_get_idx(kvs, 0), "value", &len) : NULL;
	if (text && sscanf(text, "%llu %llu %u %zu %x %llx", &m->rev, &m->position, &m->chunks,
			   &m->len, &m->crc, &m->proposer) < 5)
		ret = -EBADMSG;
	free(text);
	json_object_put(reply);
	return ret;
}

/* Appends the values of one range of chunks to blob; *from becomes the key
 * after the last one, or NULL when there are no more. */
static int fetch_chunks(struct etcd_conn *conn, char **from, const char *end_b64,
			int64_t deadline, unsigned char *blob, size_t cap, size_t *len,
			unsigned *count)
{
	struct json_object *reply, *kvs;
	size_t n = 0;
	int ret;

	ret = call(conn, "/v3/kv/range", deadline, &reply,
		   "{\"key\":\"%s\",\"range_end\":\"%s\",\"limit\":%d}", *from, end_b64,
		   CHUNKS_PER_RANGE);
	if (ret)
		return ret;
	kvs = etcd_json_get(reply, "kvs");
	n = kvs ? json_object_array_length(kvs) : 0;
	for (size_t k = 0; k < n && !ret; k++) {
		struct json_object *kv = json_object_array_get_idx(kvs, k);
		size_t vlen, klen;
		void *value = field_bytes(kv, "value", &vlen);
		char *key = field_bytes(kv, "key", &klen), *next;

		if (!value || !key || vlen > cap - *len) {
			ret = -EBADMSG;
		} else {
			memcpy(blob + *len, value, vlen);
			*len += vlen;
			(*count)++;
			next = k + 1 == n ? etcd_b64(key, klen + 1) : NULL; /* the key, then "\0" */
			if (k + 1 == n) {
				free(*from);
				*from = next;
				ret = next ? 0 : -ENOMEM;
			}
		}
		free(value);
		free(key);
	}
	if (!ret && !json_object_get_boolean(etcd_json_get(reply, "more"))) {
		free(*from);
		*from = NULL;
	}
	json_object_put(reply);
	return ret;
}

static int fetch_snapshot(struct etcd_conn *conn, struct etcd_log *e, const struct manifest *m,
			  int64_t deadline, unsigned char *blob)
{
	char first[64], *key, *from, *end_b64;
	size_t len = 0;
	unsigned count = 0;
	int ret = -ENOMEM;

	snprintf(first, sizeof(first), "%020llu/%016llx/", m->rev, m->proposer);
	key = joined(e->key_snap, first);
	from = b64_of(key);
	key[strlen(key) - 1] = '0'; /* the end of the range: the byte after '/' */
	end_b64 = b64_of(key);
	if (from && end_b64)
		ret = 0;
	while (!ret && from)
		ret = fetch_chunks(conn, &from, end_b64, deadline, blob, m->len, &len, &count);
	if (!ret && (len != m->len || count != m->chunks ||
		     crc32(0, blob, (uInt)len) != (uLong)m->crc))
		ret = -EBADMSG;
	free(from);
	free(end_b64);
	free(key);
	return ret;
}

/* Loads the latest snapshot, if any, and follows from its revision. */
static int load_snapshot(struct etcd_log *e, struct etcd_conn *conn, int64_t deadline)
{
	struct manifest m;
	unsigned char *blob;
	int ret = read_manifest(conn, e, deadline, &m);

	if (ret || m.rev == 0)
		return ret;
	blob = malloc(m.len ? m.len : 1);
	if (!blob)
		return -ENOMEM;
	ret = fetch_snapshot(conn, e, &m, deadline, blob);
	if (ret) {
		say(e, "etcd: the snapshot of revision %llu does not load: %s", m.rev,
		    strerror(-ret));
		free(blob);
		return ret;
	}
	pthread_mutex_lock(&e->deliver_lock);
	ret = e->load(e->arg, m.position, blob, m.len);
	if (!ret) {
		e->last_position = m.position;
		pthread_mutex_lock(&e->lock);
		e->applied_rev = m.rev;
		e->snapshot_rev = m.rev;
		e->bytes_since_snapshot = 0;
		pthread_cond_broadcast(&e->changed);
		pthread_mutex_unlock(&e->lock);
	}
	pthread_mutex_unlock(&e->deliver_lock);
	free(blob);
	return ret;
}

/* --- delivery (the watcher) ---------------------------------------------------- */

/* Our own frame was applied: its proposals are done. */
static void frame_done(struct etcd_log *e, uint64_t batch, uint64_t base)
{
	pthread_mutex_lock(&e->lock);
	for (struct proposal *p = e->head; p; p = p->next) {
		if (p->batch == batch && !p->done) {
			p->done = true;
			p->position = base + p->index;
		}
	}
	pthread_cond_broadcast(&e->changed);
	pthread_mutex_unlock(&e->lock);
}

struct delivery {
	struct etcd_log *e;
	uint64_t base;
};

static void deliver_record(void *arg, uint32_t k, const void *rec, size_t len)
{
	struct delivery *d = arg;

	if (d->e->deliver(d->e->arg, d->base + k, rec, len) != 0)
		say(d->e, "etcd: record %u at position %llu does not decode", k,
		    (unsigned long long)(d->base + k));
	d->e->last_position = d->base + k;
}

static void deliver_frame(struct etcd_log *e, uint64_t rev, const unsigned char *f, size_t len)
{
	struct delivery d = { e, rev * RECORDS_PER_REVISION };
	uint64_t proposer, batch;

	if (etcd_frame_each(f, len, &proposer, &batch, deliver_record, &d) < 0) {
		say(e, "etcd: the value at revision %llu is not a frame of records",
		    (unsigned long long)rev);
		pthread_mutex_lock(&e->lock);
		e->frames_skipped++;
		pthread_mutex_unlock(&e->lock);
		return;
	}
	pthread_mutex_lock(&e->lock);
	e->bytes_since_snapshot += len;
	pthread_mutex_unlock(&e->lock);
	if (proposer == e->proposer)
		frame_done(e, batch, d.base);
}

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(s, prefix, n) == 0;
}

static bool is_own_member_key(struct etcd_log *e, const char *key, size_t len)
{
	size_t n = strlen(e->key_members);
	char id[17];

	snprintf(id, sizeof(id), "%016llx", (unsigned long long)e->proposer);
	return len == n + 16 && memcmp(key + n, id, 16) == 0;
}

/* A mount's member key went away: its session ends, at this revision.  It
 * may be ours: a lease that ran out while this host was cut off or stalled
 * (or one a resumed old leader of etcd 3.4 revoked); the state then begins
 * a new session through log_rejoin. */
static void member_gone(struct etcd_log *e, struct json_object *event, const char *key,
			size_t klen, uint64_t rev)
{
	size_t len;
	void *farewell = field_bytes(etcd_json_get(event, "prev_kv"), "value", &len);

	if (!farewell)
		return;
	if (is_own_member_key(e, key, klen)) {
		pthread_mutex_lock(&e->lock);
		e->lease_lost = true;
		pthread_mutex_unlock(&e->lock);
		say(e, "etcd: the cluster ended this mount's session (revision %llu): its lease "
		       "ran out", (unsigned long long)rev);
	} else {
		say(e, "etcd: a mount left the cluster (revision %llu): its session ends",
		    (unsigned long long)rev);
	}
	e->deliver(e->arg, rev * RECORDS_PER_REVISION, farewell, len);
	e->last_position = rev * RECORDS_PER_REVISION;
	free(farewell);
}

static void set_applied(struct etcd_log *e, uint64_t rev)
{
	pthread_mutex_lock(&e->lock);
	if (rev > e->applied_rev) {
		e->applied_rev = rev;
		pthread_cond_broadcast(&e->changed);
	}
	pthread_mutex_unlock(&e->lock);
}

static void handle_event(struct etcd_log *e, struct json_object *event)
{
	struct json_object *kv = etcd_json_get(event, "kv"), *type = etcd_json_get(event, "type");
	bool deleted = type && strcmp(json_object_get_string(type), "DELETE") == 0;
	uint64_t rev = (uint64_t)etcd_json_int(kv, "mod_revision");
	size_t klen, vlen;
	char *key = field_bytes(kv, "key", &klen);
	void *value;

	if (!key)
		return;
	if (!deleted && klen == strlen(e->key_log) && memcmp(key, e->key_log, klen) == 0) {
		value = field_bytes(kv, "value", &vlen);
		if (value)
			deliver_frame(e, rev, value, vlen);
		free(value);
	} else if (deleted && has_prefix(key, klen, e->key_members)) {
		member_gone(e, event, key, klen, rev);
	}
	free(key);
}

/* One message of the watch: every event of a revision comes in the same
 * message, so a revision is applied whole before applied_rev says so. */
static int on_message(void *arg, struct json_object *message)
{
	struct etcd_log *e = arg;
	struct json_object *result = etcd_json_get(message, "result"), *events;
	uint64_t last = 0;
	size_t n;

	if (etcd_json_get(message, "error")) {
		say(e, "etcd: the watch ended: %s",
		    json_object_get_string(etcd_json_get(etcd_json_get(message, "error"),
							 "message")));
		return 1;
	}
	if (json_object_get_boolean(etcd_json_get(result, "canceled"))) {
		e->reload = etcd_json_int(result, "compact_revision") != 0;
		return 1;
	}
	events = etcd_json_get(result, "events");
	n = events ? json_object_array_length(events) : 0;
	pthread_mutex_lock(&e->deliver_lock);
	for (size_t k = 0; k < n; k++) {
		struct json_object *event = json_object_array_get_idx(events, k);
		uint64_t rev = (uint64_t)etcd_json_int(etcd_json_get(event, "kv"), "mod_revision");

		if (last && rev != last)
			set_applied(e, last);
		handle_event(e, event);
		last = rev;
	}
	if (last)
		set_applied(e, last);
	pthread_mutex_unlock(&e->deliver_lock);
	return 0;
}

static bool stopping(struct etcd_log *e)
{
	return __atomic_load_n(&e->stop_flag, __ATOMIC_ACQUIRE);
}

static void *watch_loop(void *arg)
{
	struct etcd_log *e = arg;

	while (!stopping(e)) {
		uint64_t from;
		char *body;
		int ret = 0;

		if (e->reload) {
			say(e, "etcd: the history this mount needs was compacted: "
			       "loading the latest snapshot");
			if (load_snapshot(e, e->watch_conn, deadline_in(e->timeout_ms)) == 0)
				e->reload = false;
		}
		pthread_mutex_lock(&e->lock);
		from = e->applied_rev + 1;
		pthread_mutex_unlock(&e->lock);
		if (asprintf(&body, "{\"create_request\":{\"key\":\"%s\",\"range_end\":\"%s\","
				    "\"start_revision\":\"%llu\",\"prev_kv\":true}}",
			     e->b64_log, e->b64_watch_end, (unsigned long long)from) < 0)
			body = NULL;
		if (body && !e->reload)
			ret = etcd_watch(e->watch_conn, body, on_message, e, &e->watch_abort);
		free(body);
		if (!stopping(e) && __atomic_exchange_n(&e->watch_abort, false, __ATOMIC_ACQ_REL))
			etcd_conn_skip(e->watch_conn);
		if (!stopping(e))
			usleep(ret || e->reload ? 200000 : 20000);
	}
	return NULL;
}

/* --- proposals (the sender) ----------------------------------------------------- */

/* Takes the queued proposals, oldest first, into one frame (at least one,
 * then up to FRAME_GROUP bytes).  Under lock. */
static unsigned char *take_frame(struct etcd_log *e, size_t *len, uint64_t *batch,
				 int64_t *deadline)
{
	size_t size = ETCD_FRAME_HEADER, off = ETCD_FRAME_HEADER;
	uint32_t count = 0, taken = 0;
	unsigned char *f;

	for (struct proposal *p = e->head; p; p = p->next) {
		if (p->batch)
			continue;
		if (count && size + 4 + p->len > FRAME_GROUP)
			break;
		size += 4 + p->len;
		count++;
	}
	f = malloc(size);
	if (!f)
		return NULL;
	*batch = ++e->next_batch;
	*deadline = INT64_MAX;
	for (struct proposal *p = e->head; p && taken < count; p = p->next) {
		if (p->batch)
			continue;
		p->batch = *batch;
		p->index = taken++;
		off += etcd_frame_put_record(f + off, p->rec, p->len);
		e->queued--;
		if (p->deadline_ms < *deadline)
			*deadline = p->deadline_ms;
	}
	etcd_frame_put_header(f, e->proposer, *batch, count);
	*len = off;
	return f;
}

static void frame_failed(struct etcd_log *e, uint64_t batch, int err)
{
	for (struct proposal *p = e->head; p; p = p->next) {
		if (p->batch == batch && !p->done) {
			p->done = true;
			p->err = err;
		}
	}
	e->put_failures++;
	pthread_cond_broadcast(&e->changed);
}

/* A revision of the log key that etcd has: the watch must reach it. */
static void note_tail(struct etcd_log *e, uint64_t rev)
{
	pthread_mutex_lock(&e->lock);
	if (rev > e->tail_seen) {
		e->tail_seen = rev;
		e->tail_seen_ms = etcd_now_ms();
	}
	pthread_mutex_unlock(&e->lock);
}

static int put_frame(struct etcd_log *e, struct etcd_conn *conn, const unsigned char *f,
		     size_t len, int64_t deadline)
{
	struct json_object *reply;
	char *value = etcd_b64(f, len);
	int ret;

	if (!value)
		return -ENOMEM;
	ret = call(conn, "/v3/kv/put", deadline, &reply, "{\"key\":\"%s\",\"value\":\"%s\"}",
		   e->b64_log, value);
	free(value);
	if (ret)
		return ret;
	note_tail(e, (uint64_t)etcd_json_int(etcd_json_get(reply, "header"), "revision"));
	json_object_put(reply);
	return 0;
}

/* The proposers of a frame propose again once the watch has applied it, a
 * moment after its put returned.  A put started at once leaves them for
 * the one after, and concurrent writers settle into groups that take
 * turns, each put paying etcd's cost of a revision (a watch event to every
 * mount) for a part of them.  So the next frame waits, until GATHER_US
 * after the last put returned at most, for as many proposals as that put
 * carried besides those queued meanwhile.  A lone writer never waits.
 * Under lock. */
static void gather(struct etcd_log *e, size_t want, const struct timespec *until)
{
	while (!e->stopping && e->queued < want)
		if (pthread_cond_timedwait(&e->work, &e->lock, until) == ETIMEDOUT)
			break;
}

static void gather_until(struct timespec *until)
{
	clock_gettime(CLOCK_MONOTONIC, until);
	until->tv_nsec += GATHER_US * 1000L;
	if (until->tv_nsec >= 1000000000) {
		until->tv_sec++;
		until->tv_nsec -= 1000000000;
	}
}

static void *send_loop(void *arg)
{
	struct etcd_log *e = arg;
	size_t carried = 0;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		size_t want = e->queued + carried;
		struct timespec until;
		unsigned char *f;
		uint64_t batch;
		int64_t deadline;
		size_t len;
		int ret;

		gather_until(&until);
		while (!e->stopping && !e->queued)
			pthread_cond_wait(&e->work, &e->lock);
		gather(e, want, &until);
		if (e->stopping)
			break;
		carried = e->queued;
		f = take_frame(e, &len, &batch, &deadline);
		carried -= e->queued;
		if (!f) {
			pthread_mutex_unlock(&e->lock);
			usleep(10000);
			pthread_mutex_lock(&e->lock);
			continue;
		}
		e->puts++;
		pthread_mutex_unlock(&e->lock);
		ret = put_frame(e, e->send_conn, f, len, deadline);
		free(f);
		pthread_mutex_lock(&e->lock);
		if (ret)
			frame_failed(e, batch, ret);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

static int etcd_append(struct log *log, const void *rec, size_t len, uint64_t *ticket)
{
	struct etcd_log *e = of(log);
	struct proposal *p;
	int ret = 0;

	if (len == 0)
		return -EINVAL;
	if (len > LOG_ETCD_MAX_RECORD)
		return -EFBIG;
	p = calloc(1, sizeof(*p));
	if (p)
		p->rec = malloc(len);
	if (!p || !p->rec) {
		free(p);
		return -ENOMEM;
	}
	memcpy(p->rec, rec, len);
	p->len = len;
	p->deadline_ms = deadline_in(e->timeout_ms);
	pthread_mutex_lock(&e->lock);
	if (!e->following || e->stopping) {
		ret = -EINVAL;
	} else {
		log_stamp(log, p->rec, len);
		p->ticket = *ticket = ++e->next_ticket;
		if (e->tail)
			e->tail->next = p;
		else
			e->head = p;
		e->tail = p;
		e->queued++;
		e->proposals++;
		pthread_cond_signal(&e->work);
	}
	pthread_mutex_unlock(&e->lock);
	if (ret) {
		free(p->rec);
		free(p);
	}
	return ret;
}

/* Under lock. */
static void unlink_proposal(struct etcd_log *e, struct proposal *p)
{
	struct proposal *prev = NULL;

	for (struct proposal *q = e->head; q && q != p; q = q->next)
		prev = q;
	if (prev)
		prev->next = p->next;
	else
		e->head = p->next;
	if (e->tail == p)
		e->tail = prev;
	if (!p->batch)
		e->queued--;
}

static int etcd_await(struct log *log, uint64_t ticket, uint64_t *position)
{
	struct etcd_log *e = of(log);
	struct proposal *p;
	struct timespec ts;
	int ret;

	pthread_mutex_lock(&e->lock);
	for (p = e->head; p && p->ticket != ticket; p = p->next)
		;
	if (!p) {
		pthread_mutex_unlock(&e->lock);
		return -EINVAL;
	}
	deadline_timespec(p->deadline_ms, &ts);
	while (!p->done && !e->stopping)
		if (pthread_cond_timedwait(&e->changed, &e->lock, &ts) == ETIMEDOUT)
			break;
	ret = p->done ? p->err : -ETIMEDOUT;
	*position = p->position;
	unlink_proposal(e, p);
	pthread_mutex_unlock(&e->lock);
	free(p->rec);
	free(p);
	return ret;
}

/* --- linearizable reads ---------------------------------------------------------- */

/* The revision of the log's latest record, by a linearizable range. */
static int read_tail(struct etcd_log *e, struct etcd_conn *conn, uint64_t *tail)
{
	struct json_object *reply, *kvs;
	int ret = call(conn, "/v3/kv/range", deadline_in(e->timeout_ms), &reply,
		       "{\"key\":\"%s\",\"keys_only\":true}", e->b64_log);

	if (ret)
		return ret;
	kvs = etcd_json_get(reply, "kvs");
	*tail = kvs ? (uint64_t)etcd_json_int(json_object_array_get_idx(kvs, 0), "mod_revision")
		    : 0;
	json_object_put(reply);
	note_tail(e, *tail);
	return 0;
}

/* Learns the tail by a range that began after this call did; callers that
 * come while one is in flight share the next one. */
static int shared_tail(struct etcd_log *e, uint64_t *tail)
{
	uint64_t want = e->started_rounds + 1;

	while (e->done_rounds < want) {
		if (e->started_rounds == e->done_rounds) {
			uint64_t round = ++e->started_rounds, t = 0;
			int err;

			pthread_mutex_unlock(&e->lock);
			err = read_tail(e, e->read_conn, &t);
			pthread_mutex_lock(&e->lock);
			e->round_tail = t;
			e->round_err = err;
			e->done_rounds = round;
			e->catch_ups++;
			pthread_cond_broadcast(&e->changed);
		} else {
			pthread_cond_wait(&e->changed, &e->lock);
		}
	}
	*tail = e->round_tail;
	return e->round_err;
}

static int wait_caught_up(struct etcd_log *e)
{
	int64_t deadline = deadline_in(e->timeout_ms);
	struct timespec ts;
	uint64_t tail;
	int ret;

	pthread_mutex_lock(&e->lock);
	ret = shared_tail(e, &tail);
	deadline_timespec(deadline, &ts);
	while (!ret && e->applied_rev < tail && !e->stopping)
		if (pthread_cond_timedwait(&e->changed, &e->lock, &ts) == ETIMEDOUT)
			ret = -ETIMEDOUT;
	pthread_mutex_unlock(&e->lock);
	return ret;
}

static int etcd_catch_up(struct log *log)
{
	struct etcd_log *e = of(log);

	return e->local_reads ? 0 : wait_caught_up(e);
}

/* --- the lease ------------------------------------------------------------------- */

static void keep_alive_once(struct etcd_log *e)
{
	struct json_object *reply;
	int64_t ttl;
	int ret = call(e->keep_conn, "/v3/lease/keepalive", deadline_in(e->lease_s * 1000 / 3),
		       &reply, "{\"ID\":\"%lld\"}",
		       (long long)__atomic_load_n(&e->lease, __ATOMIC_ACQUIRE));

	if (ret)
		return;
	ttl = etcd_json_int(etcd_json_get(reply, "result"), "TTL");
	json_object_put(reply);
	pthread_mutex_lock(&e->lock);
	if (ttl == 0 && !e->lease_lost) {
		e->lease_lost = true;
		pthread_mutex_unlock(&e->lock);
		say(e, "etcd: this mount's lease has expired: the cluster ends its session, and "
		       "a new one begins when it has");
		return;
	}
	pthread_mutex_unlock(&e->lock);
}

/* A watch that stays behind a revision etcd has already given (a member
 * that hangs without closing the stream) is left for the next member. */
static void check_watch(struct etcd_log *e)
{
	bool stuck;

	pthread_mutex_lock(&e->lock);
	stuck = e->applied_rev < e->tail_seen && etcd_now_ms() - e->tail_seen_ms > STUCK_MS;
	if (stuck)
		e->tail_seen_ms = etcd_now_ms();
	pthread_mutex_unlock(&e->lock);
	if (!stuck)
		return;
	say(e, "etcd: the watch has fallen behind: watching from the next member");
	__atomic_store_n(&e->watch_abort, true, __ATOMIC_RELEASE);
}

static void *keep_loop(void *arg)
{
	struct etcd_log *e = arg;
	int64_t next_keepalive = deadline_in(e->lease_s * 1000 / 3);
	struct timespec ts;

	pthread_mutex_lock(&e->lock);
	while (!e->stopping) {
		deadline_timespec(deadline_in(WATCHDOG_MS), &ts);
		while (!e->stopping && pthread_cond_timedwait(&e->changed, &e->lock, &ts) != ETIMEDOUT)
			;
		if (e->stopping)
			break;
		pthread_mutex_unlock(&e->lock);
		check_watch(e);
		if (etcd_now_ms() >= next_keepalive) {
			next_keepalive = deadline_in(e->lease_s * 1000 / 3);
			keep_alive_once(e);
		}
		pthread_mutex_lock(&e->lock);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

/* --- open, follow, close ----------------------------------------------------------- */

static int grant_lease(struct etcd_log *e, int64_t deadline)
{
	struct json_object *reply;
	int64_t lease;
	int ret = call(e->ctl_conn, "/v3/lease/grant", deadline, &reply, "{\"TTL\":\"%u\"}",
		       e->lease_s);

	if (ret)
		return ret;
	lease = etcd_json_int(reply, "ID");
	json_object_put(reply);
	__atomic_store_n(&e->lease, lease, __ATOMIC_RELEASE);
	return lease ? 0 : -EIO;
}

static int register_member(struct etcd_log *e, const void *farewell, size_t len,
			   int64_t deadline)
{
	char id[17], *key, *b64_key, *value;
	int ret = -ENOMEM;

	snprintf(id, sizeof(id), "%016llx", (unsigned long long)e->proposer);
	key = joined(e->key_members, id);
	b64_key = b64_of(key);
	value = etcd_b64(farewell, len);
	if (b64_key && value)
		ret = call(e->ctl_conn, "/v3/kv/put", deadline, NULL,
			   "{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%lld\"}", b64_key, value,
			   (long long)__atomic_load_n(&e->lease, __ATOMIC_ACQUIRE));
	free(value);
	free(b64_key);
	free(key);
	return ret;
}

/* The session the cluster ended comes back as a new one: a new lease, and
 * the member key again, its value the new session's end.  The old lease
 * is gone, so a keep-alive meanwhile only answers TTL 0. */
static int etcd_rejoin(struct log *log, const void *farewell, size_t len)
{
	struct etcd_log *e = of(log);
	int64_t deadline = deadline_in(e->timeout_ms);
	int ret;

	pthread_mutex_lock(&e->ctl_lock);
	ret = grant_lease(e, deadline);
	if (!ret)
		ret = register_member(e, farewell, len, deadline);
	pthread_mutex_unlock(&e->ctl_lock);
	if (ret)
		return ret;
	pthread_mutex_lock(&e->lock);
	e->lease_lost = false;
	pthread_mutex_unlock(&e->lock);
	return 0;
}

/* The first mount of a cluster writes the empty manifest, so that every
 * later snapshot can be compared against it. */
static int ensure_manifest(struct etcd_log *e, int64_t deadline)
{
	char empty[64], *value;
	int ret;

	snprintf(empty, sizeof(empty), "%020u 0 0 0 0", 0u);
	value = b64_of(empty);
	if (!value)
		return -ENOMEM;
	ret = call(e->ctl_conn, "/v3/kv/txn", deadline, NULL,
		   "{\"compare\":[{\"target\":\"CREATE\",\"key\":\"%s\",\"result\":\"EQUAL\","
		   "\"create_revision\":\"0\"}],\"success\":[{\"request_put\":{\"key\":\"%s\","
		   "\"value\":\"%s\"}}]}",
		   e->b64_manifest, e->b64_manifest, value);
	free(value);
	return ret;
}

static void etcd_free(struct etcd_log *e)
{
	etcd_conn_free(e->send_conn);
	etcd_conn_free(e->watch_conn);
	etcd_conn_free(e->keep_conn);
	etcd_conn_free(e->read_conn);
	etcd_conn_free(e->ctl_conn);
	etcd_cluster_free(e->cluster);
	free(e->b64_manifest);
	free(e->b64_watch_end);
	free(e->b64_log);
	free(e->key_snap);
	free(e->key_manifest);
	free(e->key_members);
	free(e->key_log);
	free(e->prefix);
	pthread_mutex_destroy(&e->deliver_lock);
	pthread_cond_destroy(&e->work);
	pthread_cond_destroy(&e->changed);
	pthread_mutex_destroy(&e->lock);
	pthread_mutex_destroy(&e->ctl_lock);
	free(e);
}

static int make_conns(struct etcd_log *e)
{
	e->ctl_conn = etcd_conn_new(e->cluster);
	e->send_conn = etcd_conn_new(e->cluster);
	e->watch_conn = etcd_conn_new(e->cluster);
	e->keep_conn = etcd_conn_new(e->cluster);
	e->read_conn = etcd_conn_new(e->cluster);
	if (!e->ctl_conn || !e->send_conn || !e->watch_conn || !e->keep_conn || !e->read_conn)
		return -ENOMEM;
	/* A keep-alive that hangs at a frozen member must still reach another
	 * one well within the lease. */
	etcd_conn_set_request_timeout(e->keep_conn, KEEPALIVE_TRY_MS);
	return 0;
}

static struct etcd_log *etcd_new(const struct log_etcd_options *o, char *msg, size_t size)
{
	struct etcd_log *e = calloc(1, sizeof(*e));
	pthread_condattr_t monotonic;

	if (!e)
		return NULL;
	e->log.ops = &etcd_ops;
	pthread_mutex_init(&e->ctl_lock, NULL);
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->changed, NULL);
	pthread_condattr_init(&monotonic);
	pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
	pthread_cond_init(&e->work, &monotonic);
	pthread_condattr_destroy(&monotonic);
	pthread_mutex_init(&e->deliver_lock, NULL);
	e->timeout_ms = o->timeout_ms ? o->timeout_ms : LOG_ETCD_DEFAULT_TIMEOUT_MS;
	e->lease_s = o->lease_s ? o->lease_s : LOG_ETCD_DEFAULT_LEASE_S;
	e->local_reads = o->local_reads;
	e->compact_bytes = o->compact_bytes;
	e->notice = o->notice;
	e->notice_arg = o->notice_arg;
	if (getrandom(&e->proposer, sizeof(e->proposer), 0) != sizeof(e->proposer))
		e->proposer = (uint64_t)etcd_now_ms() ^ ((uint64_t)getpid() << 32);
	e->cluster = etcd_cluster_new(o->endpoints, o->notice, o->notice_arg, msg, size);
	if (!e->cluster || make_keys(e, o->prefix) || make_conns(e)) {
		if (e->cluster)
			snprintf(msg, size, "out of memory");
		etcd_free(e);
		return NULL;
	}
	return e;
}

int log_etcd_probe(const char *endpoints, unsigned timeout_ms, char *msg, size_t size)
{
	struct etcd_cluster *c = etcd_cluster_new(endpoints, NULL, NULL, msg, size);
	struct etcd_conn *conn = c ? etcd_conn_new(c) : NULL;
	int ret = -ENOMEM;

	if (!c)
		return -EINVAL;
	if (conn)
		ret = call(conn, "/v3/maintenance/status", deadline_in(timeout_ms), NULL, "{}");
	if (ret)
		snprintf(msg, size, "no member of the etcd cluster at %s answers: %s", endpoints,
			 strerror(-ret));
	etcd_conn_free(conn);
	etcd_cluster_free(c);
	return ret;
}

int log_etcd_open(const struct log_etcd_options *o, struct log **log, char *msg, size_t size)
{
	struct etcd_log *e;
	int64_t deadline;
	int ret;

	if (o->lease_s && o->lease_s < 2) {
		snprintf(msg, size, "--lease must be 2 seconds or more (etcd's shortest)");
		return -EINVAL;
	}
	if (!o->farewell || !o->farewell_len) {
		snprintf(msg, size, "no record ends this mount's session");
		return -EINVAL;
	}
	e = etcd_new(o, msg, size);
	if (!e)
		return -EINVAL;
	deadline = deadline_in(e->timeout_ms);
	ret = grant_lease(e, deadline);
	if (!ret)
		ret = register_member(e, o->farewell, o->farewell_len, deadline);
	if (!ret)
		ret = ensure_manifest(e, deadline);
	if (ret) {
		snprintf(msg, size, "cannot join the etcd cluster at %s: %s", o->endpoints,
			 strerror(-ret));
		etcd_free(e);
		return ret;
	}
	*log = &e->log;
	return 0;
}

static int start_threads(struct etcd_log *e)
{
	if (pthread_create(&e->sender, NULL, send_loop, e))
		return -EAGAIN;
	e->sending = true;
	if (pthread_create(&e->keeper, NULL, keep_loop, e))
		return -EAGAIN;
	e->keeping = true;
	if (pthread_create(&e->watcher, NULL, watch_loop, e))
		return -EAGAIN;
	e->watching = true;
	return 0;
}

static int etcd_follow(struct log *log, log_load_fn load, log_deliver_fn deliver, void *arg)
{
	struct etcd_log *e = of(log);
	int ret;

	e->load = load;
	e->deliver = deliver;
	e->arg = arg;
	pthread_mutex_lock(&e->ctl_lock);
	ret = load_snapshot(e, e->ctl_conn, deadline_in(e->timeout_ms));
	pthread_mutex_unlock(&e->ctl_lock);
	if (!ret)
		ret = start_threads(e);
	if (ret)
		return ret;
	pthread_mutex_lock(&e->lock);
	e->following = true;
	pthread_mutex_unlock(&e->lock);
	return wait_caught_up(e);
}

static void stop_threads(struct etcd_log *e)
{
	pthread_mutex_lock(&e->lock);
	e->stopping = true;
	pthread_cond_broadcast(&e->work);
	pthread_cond_broadcast(&e->changed);
	pthread_mutex_unlock(&e->lock);
	__atomic_store_n(&e->stop_flag, true, __ATOMIC_RELEASE);
	__atomic_store_n(&e->watch_abort, true, __ATOMIC_RELEASE);
	if (e->sending)
		pthread_join(e->sender, NULL);
	if (e->keeping)
		pthread_join(e->keeper, NULL);
	if (e->watching)
		pthread_join(e->watcher, NULL);
}

/* A mount that leaves revokes its lease: the other mounts end its session
 * at once instead of a lease later. */
static void etcd_close(struct log *log)
{
	struct etcd_log *e = of(log);

	stop_threads(e);
	call(e->ctl_conn, "/v3/lease/revoke", deadline_in(CLOSE_TIMEOUT_MS), NULL,
	     "{\"ID\":\"%lld\"}", (long long)__atomic_load_n(&e->lease, __ATOMIC_ACQUIRE));
	while (e->head) {
		struct proposal *p = e->head;

		e->head = p->next;
		free(p->rec);
		free(p);
	}
	etcd_free(e);
}

/* Committed in etcd is on a quorum's disks: nothing more to wait for. */
static int etcd_sync(struct log *log, uint64_t position)
{
	(void)log, (void)position;
	return 0;
}

/* --- compaction ------------------------------------------------------------------ */

static bool etcd_wants_compaction(struct log *log)
{
	struct etcd_log *e = of(log);
	bool wants;

	pthread_mutex_lock(&e->lock);
	wants = e->compact_bytes && e->bytes_since_snapshot >= e->compact_bytes && !e->lease_lost;
	pthread_mutex_unlock(&e->lock);
	return wants;
}

static int put_chunks(struct etcd_log *e, uint64_t rev, const unsigned char *blob, size_t len,
		      unsigned *chunks)
{
	int64_t deadline = deadline_in(e->timeout_ms);
	int ret = 0;

	*chunks = 0;
	for (size_t off = 0; off < len && !ret; off += CHUNK_BYTES, (*chunks)++) {
		size_t n = len - off < CHUNK_BYTES ? len - off : CHUNK_BYTES;
		char name[64], *key, *b64_key, *value;

		snprintf(name, sizeof(name), "%020llu/%016llx/%06u", (unsigned long long)rev,
			 (unsigned long long)e->proposer, *chunks);
		key = joined(e->key_snap, name);
		b64_key = b64_of(key);
		value = etcd_b64(blob + off, n);
		ret = b64_key && value ? call(e->ctl_conn, "/v3/kv/put", deadline, NULL,
					      "{\"key\":\"%s\",\"value\":\"%s\"}", b64_key, value)
				       : -ENOMEM;
		free(value);
		free(b64_key);
		free(key);
	}
	return ret;
}

/* Replaces the manifest if ours is newer; *won says whether it was. */
static int put_manifest(struct etcd_log *e, const struct manifest *m, bool *won)
{
	char text[128], rev[32], *b64_text, *b64_rev;
	struct json_object *reply;
	int ret = -ENOMEM;

	snprintf(text, sizeof(text), "%020llu %llu %u %zu %x %016llx", m->rev, m->position,
		 m->chunks, m->len, m->crc, m->proposer);
	snprintf(rev, sizeof(rev), "%020llu", m->rev);
	b64_text = b64_of(text);
	b64_rev = b64_of(rev);
	*won = false;
	if (b64_text && b64_rev)
		ret = call(e->ctl_conn, "/v3/kv/txn", deadline_in(e->timeout_ms), &reply,
			   "{\"compare\":[{\"target\":\"VALUE\",\"key\":\"%s\",\"result\":\"LESS\","
			   "\"value\":\"%s\"}],\"success\":[{\"request_put\":{\"key\":\"%s\","
			   "\"value\":\"%s\"}}]}",
			   e->b64_manifest, b64_rev, e->b64_manifest, b64_text);
	if (!ret) {
		*won = json_object_get_boolean(etcd_json_get(reply, "succeeded"));
		json_object_put(reply);
	}
	free(b64_text);
	free(b64_rev);
	return ret;
}

/* Deletes the chunks of snapshots before rev (or, with only, this mount's
 * of rev). */
static void drop_chunks(struct etcd_log *e, uint64_t rev, bool only)
{
	char from[64], to[64], *kf, *kt, *bf, *bt;

	if (only) {
		snprintf(from, sizeof(from), "%020llu/%016llx/", (unsigned long long)rev,
			 (unsigned long long)e->proposer);
		snprintf(to, sizeof(to), "%020llu/%016llx0", (unsigned long long)rev,
			 (unsigned long long)e->proposer);
	} else {
		from[0] = '\0';
		snprintf(to, sizeof(to), "%020llu/", (unsigned long long)rev);
	}
	kf = joined(e->key_snap, from);
	kt = joined(e->key_snap, to);
	bf = b64_of(kf);
	bt = b64_of(kt);
	if (bf && bt)
		call(e->ctl_conn, "/v3/kv/deleterange", deadline_in(e->timeout_ms), NULL,
		     "{\"key\":\"%s\",\"range_end\":\"%s\"}", bf, bt);
	free(bf);
	free(bt);
	free(kf);
	free(kt);
}

static int publish_snapshot(struct etcd_log *e, struct manifest *m, const unsigned char *blob)
{
	bool won = false;
	int ret = put_chunks(e, m->rev, blob, m->len, &m->chunks);

	if (!ret)
		ret = put_manifest(e, m, &won);
	if (ret || !won) {
		drop_chunks(e, m->rev, true);
		return ret;
	}
	/* etcd's history behind the snapshot is no longer needed. */
	call(e->ctl_conn, "/v3/kv/compaction", deadline_in(e->timeout_ms), NULL,
	     "{\"revision\":\"%llu\"}", m->rev);
	drop_chunks(e, m->rev, false);
	say(e, "etcd: snapshot at revision %llu (%zu bytes), history compacted", m->rev, m->len);
	return 0;
}

/* Every mount crosses compact_bytes at about the same revision: one that
 * finds a manifest newer than the last snapshot it knows leaves the work
 * to whoever made it. */
static bool snapshot_taken_elsewhere(struct etcd_log *e)
{
	struct manifest m;
	bool taken;

	pthread_mutex_lock(&e->ctl_lock);
	taken = read_manifest(e->ctl_conn, e, deadline_in(e->timeout_ms), &m) == 0;
	pthread_mutex_unlock(&e->ctl_lock);
	pthread_mutex_lock(&e->lock);
	taken = taken && m.rev > e->snapshot_rev;
	if (taken) {
		e->snapshot_rev = m.rev;
		e->bytes_since_snapshot = 0;
	}
	pthread_mutex_unlock(&e->lock);
	return taken;
}

static int etcd_compact(struct log *log, log_save_fn save, void *arg)
{
	struct etcd_log *e = of(log);
	struct manifest m = { 0 };
	void *blob = NULL;
	int ret;

	if (snapshot_taken_elsewhere(e))
		return 0;
	pthread_mutex_lock(&e->deliver_lock);
	ret = save(arg, &blob, &m.len);
	m.position = e->last_position;
	pthread_mutex_lock(&e->lock);
	m.rev = e->applied_rev;
	pthread_mutex_unlock(&e->lock);
	pthread_mutex_unlock(&e->deliver_lock);
	if (ret)
		return ret;
	m.crc = (unsigned)crc32(0, blob, (uInt)m.len);
	m.proposer = e->proposer;
	pthread_mutex_lock(&e->ctl_lock);
	ret = publish_snapshot(e, &m, blob);
	pthread_mutex_unlock(&e->ctl_lock);
	free(blob);
	pthread_mutex_lock(&e->lock);
	e->bytes_since_snapshot = 0;
	if (!ret && m.rev > e->snapshot_rev)
		e->snapshot_rev = m.rev;
	pthread_mutex_unlock(&e->lock);
	return ret;
}

/* --- stats ------------------------------------------------------------------------ */

/* The mounts alive now (member keys), or -1 when etcd does not say. */
static long long count_mounts(struct etcd_log *e)
{
	struct json_object *reply;
	char *end = joined(e->prefix, "members0"), *b64_from = b64_of(e->key_members),
	     *b64_end = b64_of(end);
	long long n = -1;

	pthread_mutex_lock(&e->ctl_lock);
	if (b64_from && b64_end &&
	    call(e->ctl_conn, "/v3/kv/range", deadline_in(STATS_TIMEOUT_MS), &reply,
		 "{\"key\":\"%s\",\"range_end\":\"%s\",\"count_only\":true}", b64_from,
		 b64_end) == 0) {
		n = etcd_json_int(reply, "count");
		json_object_put(reply);
	}
	pthread_mutex_unlock(&e->ctl_lock);
	free(b64_end);
	free(b64_from);
	free(end);
	return n;
}

static int etcd_format_stats(struct log *log, char *buf, size_t size)
{
	struct etcd_log *e = of(log);
	long long mounts = count_mounts(e);
	int len = etcd_cluster_format_stats(e->cluster, buf, size);
	size_t at = (size_t)len < size ? (size_t)len : size;

	pthread_mutex_lock(&e->lock);
	len += snprintf(buf + at, size - at,
			"log etcd\netcd_prefix %s\netcd_mounts %lld\netcd_applied_revision %llu\n"
			"etcd_snapshot_revision %llu\netcd_reads %s\netcd_lease_seconds %u\n"
			"etcd_lease_lost %d\netcd_timeout_ms %u\netcd_proposals %llu\n"
			"etcd_puts %llu\netcd_put_failures %llu\netcd_catch_ups %llu\n"
			"etcd_frames_skipped %llu\netcd_bytes_since_snapshot %lu\n",
			e->prefix, mounts, (unsigned long long)e->applied_rev,
			(unsigned long long)e->snapshot_rev,
			e->local_reads ? "local" : "linearizable", e->lease_s, e->lease_lost,
			e->timeout_ms, (unsigned long long)e->proposals,
			(unsigned long long)e->puts, (unsigned long long)e->put_failures,
			(unsigned long long)e->catch_ups, (unsigned long long)e->frames_skipped,
			e->bytes_since_snapshot);
	pthread_mutex_unlock(&e->lock);
	return len;
}

static const struct log_ops etcd_ops = {
	.follow = etcd_follow,
	.append = etcd_append,
	.await = etcd_await,
	.catch_up = etcd_catch_up,
	.sync = etcd_sync,
	.wants_compaction = etcd_wants_compaction,
	.compact = etcd_compact,
	.format_stats = etcd_format_stats,
	.rejoin = etcd_rejoin,
	.close = etcd_close,
	.shared = true,
};
