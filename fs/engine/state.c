/* state.c - the state object, its reads, and the funnel: submit a record,
 * have the log order it, apply it, hand the outcome back.  See state.h.
 *
 * Counters that readers bump are atomics, so that readers sharing the lock
 * do not need another one; counters of mutations live under the exclusive
 * lock.
 */
#include <errno.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../log/log.h"
#include "../log/memory.h"
#include "le.h"
#include "reply.h"
#include "state_priv.h"
#include "text.h"

#define SMALL_BATCH 8 /* instructions handled without a malloc */

/* Set while this thread is inside state_submit: the log may deliver to us
 * from inside its append, where an observer must not run (it may submit
 * again); apply notes the changes in *deferred, for after the append. */
static __thread struct changes *deferred;

/* The proposal this thread is appending to a log that delivers inside its
 * append (log_delivers_in_append): deliver finds its outcome here, with no
 * lock and no list. */
static __thread struct pending *appending;

/* The proposal this thread is appending, whichever the log: for stamp. */
static __thread struct pending *proposing;

struct state *state_new(FILE *console)
{
	struct state *st = calloc(1, sizeof(*st));
	char msg[160];

	if (!st)
		return NULL;
	st->machine.cells = calloc(STATE_DEFAULT_CELLS, sizeof(int64_t));
	st->machine.ncells = STATE_DEFAULT_CELLS;
	st->evlog = evlog_new(console);
	st->queues = queues_new(QUEUES_DEFAULT_CAPACITY);
	st->shop = shop_new();
	st->tickets = tickets_new();
	st->files = files_new();
	st->users = shop_users_new(NULL, NULL);
	st->queue_capacity = QUEUES_DEFAULT_CAPACITY;
	if (!st->machine.cells || !st->evlog || !st->queues || !st->shop || !st->tickets ||
	    !st->files || !st->users || rwlock_init(&st->lock))
		goto out_free;
	tickets_observe(st->tickets, state_ticket_left, st);
	pthread_mutex_init(&st->propose_lock, NULL);
	pthread_mutex_init(&st->digest_lock, NULL);
	pthread_mutex_init(&st->unsettled_lock, NULL);
	pthread_mutex_init(&st->pending_lock, NULL);
	pthread_cond_init(&st->pending_done, NULL);
	pthread_mutex_init(&st->notify_lock, NULL);
	pthread_cond_init(&st->notify_cond, NULL);
	clock_gettime(CLOCK_MONOTONIC, &st->started);
	if (state_attach_log(st, log_memory_new(), msg, sizeof(msg))) {
		state_free(st);
		return NULL;
	}
	return st;

out_free:
	shop_users_free(st->users);
	files_free(st->files);
	tickets_free(st->tickets);
	shop_free(st->shop);
	queues_free(st->queues);
	evlog_free(st->evlog);
	free(st->machine.cells);
	free(st);
	return NULL;
}

static void stop_notifier(struct state *st);

void state_free(struct state *st)
{
	if (!st)
		return;
	stop_notifier(st);
	log_close(st->log);
	pthread_cond_destroy(&st->notify_cond);
	pthread_mutex_destroy(&st->notify_lock);
	pthread_cond_destroy(&st->pending_done);
	pthread_mutex_destroy(&st->pending_lock);
	pthread_mutex_destroy(&st->propose_lock);
	pthread_mutex_destroy(&st->digest_lock);
	pthread_mutex_destroy(&st->unsettled_lock);
	rwlock_release(&st->lock);
	shop_users_free(st->users);
	files_free(st->files);
	tickets_free(st->tickets);
	shop_free(st->shop);
	queues_free(st->queues);
	evlog_free(st->evlog);
	free(st->machine.cells);
	free(st);
}

size_t state_ncells(struct state *st)
{
	size_t n;

	rwlock_read_lock(&st->lock);
	n = st->machine.ncells;
	rwlock_read_unlock(&st->lock);
	return n;
}

struct evlog *state_evlog(struct state *st)
{
	return st->evlog;
}

struct log *state_log(struct state *st)
{
	return st->log;
}

/* Observers are replaced only while the notifier runs none of them, so
 * that the caller may free what the old one used once this returns. */
static void wait_notifier_idle(struct state *st)
{
	while (st->notify_busy)
		pthread_cond_wait(&st->notify_cond, &st->notify_lock);
}

void state_observe(struct state *st, state_observer_fn fn, void *arg)
{
	pthread_mutex_lock(&st->notify_lock);
	wait_notifier_idle(st);
	st->observer = fn;
	st->observer_arg = arg;
	pthread_mutex_unlock(&st->notify_lock);
}

void state_observe_tickets(struct state *st, state_ticket_observer_fn fn, void *arg)
{
	pthread_mutex_lock(&st->notify_lock);
	wait_notifier_idle(st);
	st->ticket_observer = fn;
	st->ticket_observer_arg = arg;
	pthread_mutex_unlock(&st->notify_lock);
}

/* --- the funnel ------------------------------------------------------------ */

static void notify_tickets(struct state *st, const struct changes *c)
{
	static const struct state_ticket_event all = { 0, false, 0 };

	if (!st->ticket_observer)
		return;
	for (unsigned k = 0; k < c->ntickets && !c->all_tickets; k++)
		st->ticket_observer(st->ticket_observer_arg, &c->tickets[k]);
	if (c->all_tickets)
		st->ticket_observer(st->ticket_observer_arg, &all);
}

static bool any_change(const struct changes *c)
{
	return c->count || c->all || c->ntickets || c->all_tickets;
}

static void notify(struct state *st, const struct changes *c)
{
	uint64_t id;

	if (!any_change(c))
		return;
	notify_tickets(st, c);
	if (!st->observer)
		return;
	if (!c->all) {
		for (unsigned k = 0; k < c->count; k++)
			st->observer(st->observer_arg, c->ids[k]);
		return;
	}
	for (size_t i = 0; state_queue_at(st, i, &id, NULL, NULL) == 0; i++)
		st->observer(st->observer_arg, id);
}

/* Empties c: only the counts and flags, since nothing reads an entry past
 * them (a whole struct to zero on every request is measurable). */
static void no_changes(struct changes *c)
{
	c->count = c->ntickets = 0;
	c->all = c->all_tickets = false;
}

static void merge_changes(struct changes *into, const struct changes *c)
{
	into->all_tickets |= c->all_tickets;
	for (unsigned k = 0; k < c->ntickets && !into->all_tickets; k++) {
		if (into->ntickets == STATE_CHANGED_MAX)
			into->all_tickets = true;
		else
			into->tickets[into->ntickets++] = c->tickets[k];
	}
	into->all |= c->all;
	for (unsigned k = 0; k < c->count && !into->all; k++) {
		bool seen = false;

		for (unsigned m = 0; m < into->count; m++)
			seen |= into->ids[m] == c->ids[k];
		if (seen)
			continue;
		if (into->count == STATE_CHANGED_MAX)
			into->all = true;
		else
			into->ids[into->count++] = c->ids[k];
	}
}

/* --- the notifier ------------------------------------------------------------
 *
 * A shared log delivers in a thread of its own, and that thread must never
 * wait for a lock that a proposer holds while the proposer waits for that
 * very thread: a queue's waiters lock, held by a pop that waits for its
 * record.  So it only hands the changes over, and the notifier thread
 * calls the observers.  (The file log delivers in the proposer's thread,
 * where the changes wait in `deferred` until its append returns.)
 */

static int begin_again(struct state *st);

static void *notify_loop(void *arg)
{
	struct state *st = arg;
	struct timespec retry;

	pthread_mutex_lock(&st->notify_lock);
	for (;;) {
		struct changes c;
		bool rejoin;

		while (!st->notify_stop && !st->notify_has && !st->rejoin_due)
			pthread_cond_wait(&st->notify_cond, &st->notify_lock);
		if (st->notify_stop)
			break;
		c = st->notify_pending;
		memset(&st->notify_pending, 0, sizeof(st->notify_pending));
		st->notify_has = false;
		rejoin = st->rejoin_due;
		st->rejoin_due = false;
		st->notify_busy = true;
		pthread_mutex_unlock(&st->notify_lock);
		notify(st, &c);
		rejoin = rejoin && begin_again(st) != 0;
		pthread_mutex_lock(&st->notify_lock);
		st->notify_busy = false;
		pthread_cond_broadcast(&st->notify_cond);
		if (rejoin) {
			/* The cluster cannot be reached yet: again in a second. */
			clock_gettime(CLOCK_REALTIME, &retry);
			retry.tv_sec++;
			while (!st->notify_stop &&
			       pthread_cond_timedwait(&st->notify_cond, &st->notify_lock, &retry) == 0)
				;
			st->rejoin_due = true;
		}
	}
	pthread_mutex_unlock(&st->notify_lock);
	return NULL;
}

/* The log ended our session: the notifier begins a new one (deliver, in
 * the log's thread, must not wait for the log). */
static void ask_rejoin(struct state *st)
{
	if (!st->notifier_started)
		return;
	pthread_mutex_lock(&st->notify_lock);
	st->rejoin_due = true;
	pthread_cond_broadcast(&st->notify_cond);
	pthread_mutex_unlock(&st->notify_lock);
}

static void hand_off(struct state *st, const struct changes *c)
{
	if (!any_change(c))
		return;
	pthread_mutex_lock(&st->notify_lock);
	merge_changes(&st->notify_pending, c);
	st->notify_has = true;
	pthread_cond_broadcast(&st->notify_cond);
	pthread_mutex_unlock(&st->notify_lock);
}

static int start_notifier(struct state *st)
{
	if (st->notifier_started)
		return 0;
	if (pthread_create(&st->notifier, NULL, notify_loop, st))
		return -EAGAIN;
	st->notifier_started = true;
	return 0;
}

/* Before the log closes: a notifier that runs an observer may be waiting
 * for the log.  What the log delivers later waits in notify_pending for
 * nobody. */
static void stop_notifier(struct state *st)
{
	if (!st->notifier_started)
		return;
	pthread_mutex_lock(&st->notify_lock);
	st->notify_stop = true;
	pthread_cond_broadcast(&st->notify_cond);
	pthread_mutex_unlock(&st->notify_lock);
	pthread_join(st->notifier, NULL);
}

/* The outcome a proposal of ours waits for, or NULL.  It is claimed: its
 * proposer, should it give up waiting, waits for this apply to end before
 * its outcome goes away. */
static struct pending *claim_pending(struct state *st, const struct record *r)
{
	struct pending *p = appending;

	if (p && p->session == r->session && p->seq == r->seq) {
		p->claimed = true;
		return p;
	}
	if (!r->session)
		return NULL;
	pthread_mutex_lock(&st->pending_lock);
	for (p = st->pending; p && (p->session != r->session || p->seq != r->seq || p->done);
	     p = p->next)
		;
	if (p)
		p->claimed = true;
	pthread_mutex_unlock(&st->pending_lock);
	return p;
}

/* The event log of each host shows the changes made on the others. */
static void note_remote(struct state *st, const struct record *r)
{
	char line[EVLOG_LINE_MAX];

	uint64_t ours = __atomic_load_n(&st->session, __ATOMIC_ACQUIRE);

	if (!log_is_shared(st->log) || !ours || r->session == ours || !evlog_wanted(st->evlog) ||
	    (r->kind == RECORD_SESSION_END && r->v == ours))
		return;
	record_format(r, line, sizeof(line));
	evlog_append(st->evlog, "from another host: %s", line);
}

/* The log's deliver: decodes and applies one record, and tells whoever
 * waits for it and the observer. */
static int deliver(void *arg, uint64_t position, const void *rec, size_t len)
{
	struct state *st = arg;
	struct changes local, *changed = deferred ? deferred : &local;
	struct pending *p;
	struct record r;

	if (!deferred)
		no_changes(&local);
	if (record_decode(rec, len, &r))
		return -EBADMSG;
	p = claim_pending(st, &r);
	rwlock_write_lock(&st->lock);
	st->applied = position; /* before: a queue created here takes it as its id */
	state_apply_record(st, &r, p ? p->out : NULL, changed);
	rwlock_write_unlock(&st->lock);
	note_remote(st, &r);
	if (p && p == appending) {
		p->done = true;
	} else if (p) {
		pthread_mutex_lock(&st->pending_lock);
		p->done = true;
		pthread_cond_broadcast(&st->pending_done);
		pthread_mutex_unlock(&st->pending_lock);
	}
	if (r.kind == RECORD_SESSION_END && r.v == __atomic_load_n(&st->session, __ATOMIC_ACQUIRE))
		ask_rejoin(st);
	if (deferred)
		return 0;
	if (st->notifier_started)
		hand_off(st, changed);
	else
		notify(st, changed);
	return 0;
}

static int load(void *arg, uint64_t position, const void *blob, size_t len)
{
	struct state *st = arg;
	char msg[160];
	int ret;

	rwlock_write_lock(&st->lock);
	ret = state_load_blob(st, blob, len, msg, sizeof(msg));
	st->loads++;
	if (!ret)
		st->applied = position;
	rwlock_write_unlock(&st->lock);
	if (ret && st->evlog)
		evlog_append(st->evlog, "snapshot: %s", msg);
	return ret;
}

static int save(void *arg, void **blob, size_t *len)
{
	struct state *st = arg;
	struct text t = TEXT_INIT;
	int ret;

	rwlock_read_lock(&st->lock);
	ret = state_save_blob(st, &t);
	rwlock_read_unlock(&st->lock);
	if (ret) {
		text_free(&t);
		return ret;
	}
	*blob = text_take(&t, len);
	return *blob ? 0 : -ENOMEM;
}

/* Takes p off the list, once no apply is filling it; returns whether it
 * was applied. */
static bool forget_pending(struct state *st, struct pending *p)
{
	bool done;

	pthread_mutex_lock(&st->pending_lock);
	while (p->claimed && !p->done)
		pthread_cond_wait(&st->pending_done, &st->pending_lock);
	done = p->done;
	for (struct pending **link = &st->pending; *link; link = &(*link)->next) {
		if (*link == p) {
			*link = p->next;
			break;
		}
	}
	pthread_mutex_unlock(&st->pending_lock);
	return done;
}

/* Waits for the log to deliver p's record (at once with the file log,
 * which delivers inside its append) and takes p off the list.  A log that
 * gave up waiting may still have applied it just then: that counts. */
static int wait_applied(struct state *st, struct pending *p, uint64_t ticket,
			uint64_t *position)
{
	int ret;

	if (log_delivers_in_append(st->log)) {
		*position = ticket;
		return 0;
	}
	ret = log_await(st->log, ticket, position);
	if (ret) {
		if (!forget_pending(st, p))
			return ret;
		*position = ticket;
		return 0;
	}
	pthread_mutex_lock(&st->pending_lock);
	while (!p->done)
		pthread_cond_wait(&st->pending_done, &st->pending_lock);
	pthread_mutex_unlock(&st->pending_lock);
	forget_pending(st, p);
	return 0;
}

static int64_t wall_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The log's stamp (log.h): gives the record of this thread's proposal our
 * session and the next sequence as it enters the log, under the log's
 * lock, so sequences reach the log in the order they are given and apply
 * can tell a repeat from a record that was merely overtaken.  A log that
 * delivers in a thread of its own finds the proposal on the pending list.
 * Records that no proposal of ours appends (the tests') go in as they are. */
static void stamp(void *arg, void *rec, size_t len)
{
	struct state *st = arg;
	struct pending *p = proposing;

	(void)len;
	if (!p)
		return;
	p->session = __atomic_load_n(&st->session, __ATOMIC_RELAXED);
	p->seq = ++st->next_seq;
	record_set_origin(rec, p->session, p->seq);
	if (log_delivers_in_append(st->log))
		return;
	pthread_mutex_lock(&st->pending_lock);
	p->next = st->pending;
	st->pending = p;
	pthread_mutex_unlock(&st->pending_lock);
}

/* Appends the encoded record of proposal p; the log stamps it.  *ticket
 * is the log's, for wait_applied. */
static int append_record(struct state *st, struct text *encoded, struct pending *p,
			 struct changes *changed, uint64_t *ticket)
{
	int ret;

	proposing = p;
	if (log_delivers_in_append(st->log))
		appending = p;
	deferred = changed;
	ret = log_append(st->log, encoded->buf, encoded->len, ticket);
	deferred = NULL;
	if (ret && !appending)
		forget_pending(st, p);
	appending = NULL;
	proposing = NULL;
	return ret;
}

/* A shared log's proposals wait while begin_again holds the propose lock:
 * no record of a new session may reach the log before its opening. */
static int append_in_order(struct state *st, struct text *encoded, struct pending *p,
			   struct changes *changed, uint64_t *ticket)
{
	bool shared = log_is_shared(st->log);
	int ret;

	if (shared)
		pthread_mutex_lock(&st->propose_lock);
	ret = append_record(st, encoded, p, changed, ticket);
	if (shared)
		pthread_mutex_unlock(&st->propose_lock);
	return ret;
}

int state_catch_up(struct state *st)
{
	return log_catch_up(st->log);
}

int state_farewell(uint64_t session, void **rec, size_t *len)
{
	struct record r = { .kind = RECORD_SESSION_END, .v = session };
	struct text t = TEXT_INIT;
	int ret = record_encode(&r, &t);

	if (ret) {
		text_free(&t);
		return ret;
	}
	*rec = text_take(&t, len);
	return *rec ? 0 : -ENOMEM;
}

int state_compact(struct state *st)
{
	return log_compact(st->log, save, st);
}

/* One thread compacts; the others go on.  It asks the log after taking
 * the turn, so a thread that looked before a compaction ended does not
 * make a second one right after it. */
static void compact_if_due(struct state *st)
{
	if (!log_wants_compaction(st->log) ||
	    __atomic_test_and_set(&st->compacting, __ATOMIC_ACQUIRE))
		return;
	if (log_wants_compaction(st->log))
		state_compact(st);
	__atomic_clear(&st->compacting, __ATOMIC_RELEASE);
}

/* A pop is at-least-once across a power cut whatever we do (its reply goes
 * out before its acknowledgement can be on disk), so pops, acknowledgements
 * and returns wait for no fdatasync; the kernel's copy survives a kill -9. */
static bool waits_for_disk(enum record_kind kind)
{
	return kind != RECORD_QUEUE_POP && kind != RECORD_QUEUE_ACK &&
	       kind != RECORD_QUEUE_RETURN;
}

int state_submit(struct state *st, struct record *r, struct outcome *out)
{
	char small[256];
	struct text encoded = TEXT_ON_STACK(small);
	struct changes changed;
	struct pending p = { .out = out };
	uint64_t ticket, position;
	int ret;

	no_changes(&changed);
	r->session = 0;
	r->seq = 0;
	r->time_ns = wall_clock_ns();
	p.out->err = 0;
	ret = record_encode(r, &encoded);
	if (!ret)
		ret = append_in_order(st, &encoded, &p, &changed, &ticket);
	if (!ret)
		ret = wait_applied(st, &p, ticket, &position);
	if (ret)
		goto out;
	notify(st, &changed);
	if (p.out->err)
		state_bump(&st->refused);
	if (waits_for_disk(r->kind))
		ret = log_sync(st->log, position);
	compact_if_due(st);
out:
	text_free(&encoded);
	return ret;
}

static void set_session(struct state *st, uint64_t session)
{
	__atomic_store_n(&st->session, session, __ATOMIC_RELEASE);
}

/* A shared log ended our session while this host was cut off or stalled:
 * its tickets went to others and its unreceived items back to the queues,
 * on every host.  Rather than refuse every later change, the mount begins
 * a new session, as a restart would.  The propose lock stays held until
 * the opening is applied, so no record of the new session reaches the log
 * before it; the proposals of the old one still in flight are refused
 * (ESTALE: not made). */
static int begin_again(struct state *st)
{
	uint64_t session = (uint64_t)wall_clock_ns();
	struct record open = { .kind = RECORD_SESSION_OPEN, .u = session,
			       .time_ns = (int64_t)session };
	char small[64];
	struct text encoded = TEXT_ON_STACK(small);
	struct changes changed = { .count = 0 };
	struct outcome out = { .err = 0 };
	struct pending p = { .out = &out };
	uint64_t ticket, position;
	void *farewell = NULL;
	size_t len;
	int ret = state_farewell(session, &farewell, &len);

	if (!ret)
		ret = record_encode(&open, &encoded);
	/* Outside the propose lock: the cluster may take its timeout to
	 * answer, and writers meanwhile fail on their own (ESTALE). */
	if (!ret)
		ret = log_rejoin(st->log, farewell, len);
	if (ret)
		goto out;
	pthread_mutex_lock(&st->propose_lock);
	set_session(st, session);
	ret = append_record(st, &encoded, &p, &changed, &ticket);
	if (!ret)
		ret = wait_applied(st, &p, ticket, &position);
	pthread_mutex_unlock(&st->propose_lock);
	if (!ret)
		ret = out.err;
out:
	if (st->evlog && ret)
		evlog_append(st->evlog, "cannot begin a new session: %s (trying again)",
			     strerror(-ret));
	else if (st->evlog)
		evlog_append(st->evlog, "a new session begins: the locks held here were "
			     "released, and changes refused meanwhile (ESTALE) were not made");
	free(farewell);
	text_free(&encoded);
	return ret;
}

int state_attach_log(struct state *st, struct log *log, char *msg, size_t size)
{
	int ret;

	log_close(st->log);
	st->log = log;
	if (!log)
		return -ENOMEM;
	if (log_is_shared(log) && start_notifier(st)) {
		snprintf(msg, size, "cannot start a thread");
		return -EAGAIN;
	}
	log_set_stamp(log, stamp, st);
	ret = log_follow(log, load, deliver, st);
	if (ret == -EBADMSG)
		snprintf(msg, size, "a record of the log does not decode or apply");
	else if (ret)
		snprintf(msg, size, "cannot replay the log: %s", strerror(-ret));
	return ret;
}

/* Ends every session but ours (earlier runs of this daemon): what they
 * held goes back to the queues. */
static int end_other_sessions(struct state *st)
{
	for (;;) {
		struct record r = { .kind = RECORD_SESSION_END };
		struct outcome out;
		bool found = false;
		int ret;

		rwlock_read_lock(&st->lock);
		for (size_t i = 0; i < st->nsessions && !found; i++) {
			if (st->sessions[i].id != st->session) {
				r.v = st->sessions[i].id;
				found = true;
			}
		}
		rwlock_read_unlock(&st->lock);
		if (!found)
			return 0;
		ret = state_submit(st, &r, &out);
		if (ret || out.err)
			return ret ? ret : out.err;
	}
}

int state_begin(struct state *st, uint64_t session, size_t ncells, char *msg, size_t size)
{
	struct record open = { .kind = RECORD_SESSION_OPEN, .u = session };
	struct record cells = { .kind = RECORD_CELLS, .u = ncells };
	struct outcome out;
	int ret;

	set_session(st, session);
	ret = state_submit(st, &open, &out);
	if (!ret && out.err)
		ret = out.err;
	/* Other sessions of a shared log are other hosts, alive until the log
	 * ends them; in a log of our own they are earlier runs of ours. */
	if (!ret && !log_is_shared(st->log))
		ret = end_other_sessions(st);
	if (ret) {
		snprintf(msg, size, "cannot begin a session: %s", strerror(-ret));
		return ret;
	}
	if (state_ncells(st) == ncells)
		return 0;
	ret = state_submit(st, &cells, &out);
	if (!ret && out.err)
		ret = out.err;
	if (ret == -EBUSY)
		snprintf(msg, size, "the state holds values in cells beyond %zu: "
			 "--memory must be larger", ncells);
	else if (ret)
		snprintf(msg, size, "cannot set %zu cells: %s", ncells, strerror(-ret));
	return ret;
}

/* --- registers and cells ---------------------------------------------------- */

int64_t state_read_register(struct state *st, int reg)
{
	int64_t v;

	rwlock_read_lock(&st->lock);
	v = st->machine.regs[reg];
	rwlock_read_unlock(&st->lock);
	state_bump(&st->reads);
	return v;
}

int state_read_cell(struct state *st, size_t cell, int64_t *out)
{
	int ret = 0;

	rwlock_read_lock(&st->lock);
	if (cell < st->machine.ncells)
		*out = st->machine.cells[cell];
	else
		ret = -ENXIO;
	rwlock_read_unlock(&st->lock);
	state_bump(&st->reads);
	return ret;
}

void state_read_registers(struct state *st, int64_t out[ISA_REGISTERS])
{
	rwlock_read_lock(&st->lock);
	memcpy(out, st->machine.regs, sizeof(st->machine.regs));
	rwlock_read_unlock(&st->lock);
	state_bump(&st->reads);
}

/* The isa error of a change the log refused. */
static void log_error(struct isa_error *err, int ret)
{
	err->errnum = -ret;
	err->line = 0;
	snprintf(err->message, sizeof(err->message), "cannot save the change: %s",
		 strerror(-ret));
}

int state_run(struct state *st, const struct isa_insn *insns, size_t count, uint32_t pid,
	      struct reply **reply, struct isa_error *err)
{
	unsigned char small[SMALL_BATCH * RECORD_INSN_BYTES], *data = small;
	/* Only the header and a batch's data are encoded: the other fields,
	 * most of the record's 192 bytes, stay unset. */
	struct record r;
	/* A batch's outcome is its error and its instructions' notes: the
	 * other kinds' fields, most of its 344 bytes, stay unset. */
	struct outcome out;
	struct reply *made = NULL;
	struct isa_error local;
	const struct isa_insn *failed = NULL;
	int ret = -ENOMEM;

	if (!err)
		err = &local;
	if (reply) {
		/* state_execute parsed into a reply: it is used, not copied */
		made = *reply ? *reply : reply_new(insns, count);
		*reply = NULL;
	}
	if (count > SMALL_BATCH)
		data = malloc(count * RECORD_INSN_BYTES);
	if (!data || (reply && !made))
		goto out;
	r.kind = RECORD_BATCH;
	r.pid = pid;
	r.data.data = data;
	r.data.len = record_put_insns(insns, count, data);
	/* Under the lock each instruction's outcome is only noted: the reply
	 * is printed if and when it is read. */
	out.err = 0;
	out.isa.errnum = 0; /* a refusal before the batch ran (the fence) has no message */
	out.isa.line = 0;
	out.isa.message[0] = '\0';
	out.each = made ? reply_note : NULL;
	out.each_arg = made;
	ret = state_submit(st, &r, &out);
	if (ret) {
		log_error(err, ret);
	} else if (out.err) {
		ret = out.err;
		*err = out.isa;
		/* apply numbers the lines of the record; the client's are these */
		if (out.isa.line >= 1 && out.isa.line <= count) {
			failed = &insns[out.isa.line - 1];
			err->line = failed->line;
		}
	}
	state_bump(&st->batches);
	if (ret)
		state_bump(&st->batch_errors);
	if (ret && made)
		reply_fail(made, failed, err);
	if (reply) {
		*reply = made;
		made = NULL;
	}
out:
	reply_free(made);
	if (data != small)
		free(data);
	return ret;
}

/* Room for the instructions of a text of len bytes, without a pass over
 * it: the shortest instruction ("ADD A B") and its newline take 8 bytes. */
static size_t room_for(size_t len)
{
	size_t room = len / 8 + 1;

	return room < ISA_MAX_BATCH_LINES ? room : ISA_MAX_BATCH_LINES;
}

int state_execute(struct state *st, const char *text, size_t len, uint32_t pid,
		  struct reply **reply, struct isa_error *err)
{
	struct isa_insn small[SMALL_BATCH], *insns = small;
	struct reply *made = NULL;
	struct isa_error local;
	size_t count, room = room_for(len);
	int ret;

	if (!err)
		err = &local;
	if (reply) {
		/* The batch is parsed straight into its reply, which state_run
		 * then fills in. */
		*reply = NULL;
		made = reply_reserve(room);
		insns = made ? reply_room(made) : NULL;
	} else if (room > SMALL_BATCH) {
		insns = malloc(room * sizeof(*insns));
	}
	if (!insns)
		return -ENOMEM;
	ret = isa_parse_batch(text, len, insns, room, &count, err);
	if (ret) {
		state_bump(&st->batches);
		state_bump(&st->batch_errors);
		if (made) {
			reply_fail(made, NULL, err);
			*reply = made;
		}
		goto out;
	}
	if (made) {
		reply_set_count(made, count);
		*reply = made;
	}
	ret = state_run(st, insns, count, pid, reply, err);
out:
	if (!made && insns != small)
		free(insns);
	return ret;
}

/* --- the state as a whole ---------------------------------------------------- */

/* Every look at mnt/stats asks, ls -l too: the digest is made again only
 * when a record was applied or a snapshot loaded since the last one. */
int state_digest(struct state *st, uint64_t *applied, char hex[STATE_DIGEST_HEX + 1])
{
	uint8_t digest[SHA256_DIGEST_SIZE];
	struct sha256_ctx ctx;
	struct text blob = TEXT_INIT;
	bool same;
	int ret = 0;

	pthread_mutex_lock(&st->digest_lock);
	rwlock_read_lock(&st->lock);
	same = st->digest_valid && st->digest_at == st->applied && st->digest_loads == st->loads;
	if (!same) {
		ret = state_save_blob(st, &blob);
		st->digest_at = st->applied;
		st->digest_loads = st->loads;
	}
	rwlock_read_unlock(&st->lock);
	if (!same && !ret) {
		sha256_init(&ctx);
		sha256_update(&ctx, blob.len, (const uint8_t *)blob.buf);
		sha256_digest(&ctx, sizeof(digest), digest);
		for (size_t k = 0; k < sizeof(digest); k++)
			snprintf(st->digest_hex + 2 * k, 3, "%02x", digest[k]);
	}
	text_free(&blob);
	st->digest_valid = ret == 0;
	*applied = st->digest_at;
	memcpy(hex, st->digest_hex, STATE_DIGEST_HEX + 1);
	pthread_mutex_unlock(&st->digest_lock);
	return ret;
}

int state_blob_records(const void *blob, size_t len,
		       void (*fn)(void *arg, const void *rec, size_t len), void *arg)
{
	const unsigned char *p = blob;
	size_t off = 0;

	while (off < len) {
		uint32_t n;

		if (len - off < 4)
			return -EBADMSG;
		n = le_get32(p + off);
		off += 4;
		if (n > len - off)
			return -EBADMSG;
		fn(arg, p + off, n);
		off += n;
	}
	return 0;
}

static void append_stat(char *buf, size_t size, size_t *len, const char *name,
			uint64_t value)
{
	size_t at = *len < size ? *len : size;

	*len += (size_t)snprintf(buf + at, size - at, "%s %llu\n", name,
				 (unsigned long long)value);
}

static void append_text(char *buf, size_t size, size_t *len, const char *text)
{
	size_t at = *len < size ? *len : size;

	*len += (size_t)snprintf(buf + at, size - at, "%s", text);
}

/* The longest wait of a ticket: of those granted, or of the one waiting
 * longest now, by this clock. */
static uint64_t longest_ticket_wait_us(const struct ticket_stats *ts)
{
	int64_t longest = ts->longest_wait_ns;

	if (ts->oldest_request_ns && wall_clock_ns() - ts->oldest_request_ns > longest)
		longest = wall_clock_ns() - ts->oldest_request_ns;
	return (uint64_t)longest / 1000;
}

int state_format_stats(struct state *st, char *buf, size_t size)
{
	static const char *const insn_names[ISA_OP_COUNT] = {
		[ISA_MOV] = "insn_mov", [ISA_ADD] = "insn_add", [ISA_SUB] = "insn_sub",
		[ISA_MUL] = "insn_mul", [ISA_DIV] = "insn_div", [ISA_SET] = "insn_set",
		[ISA_READ] = "insn_read", [ISA_WRITE] = "insn_write",
	};
	char hex[STATE_DIGEST_HEX + 1] = "unknown", line[STATE_DIGEST_HEX + 32];
	struct rwlock_stats ls;
	struct ticket_stats ts;
	struct files_stats fst;
	struct shop_login_stats logins;
	struct timespec now;
	uint64_t insn[ISA_OP_COUNT], applied = 0;
	size_t len = 0, at;

	rwlock_read_lock(&st->lock);
	memcpy(insn, st->insn_count, sizeof(insn));
	tickets_stats(st->tickets, &ts);
	files_get_stats(st->files, &fst);
	rwlock_read_unlock(&st->lock);
	state_digest(st, &applied, hex);
	rwlock_get_stats(&st->lock, &ls);
	clock_gettime(CLOCK_MONOTONIC, &now);

	append_stat(buf, size, &len, "uptime_seconds",
		    (uint64_t)(now.tv_sec - st->started.tv_sec));
	append_stat(buf, size, &len, "applied", applied);
	snprintf(line, sizeof(line), "state_digest %s\n", hex);
	append_text(buf, size, &len, line);
	append_stat(buf, size, &len, "reads", __atomic_load_n(&st->reads, __ATOMIC_RELAXED));
	append_stat(buf, size, &len, "batches",
		    __atomic_load_n(&st->batches, __ATOMIC_RELAXED));
	append_stat(buf, size, &len, "batch_errors",
		    __atomic_load_n(&st->batch_errors, __ATOMIC_RELAXED));
	append_stat(buf, size, &len, "records_refused",
		    __atomic_load_n(&st->refused, __ATOMIC_RELAXED));
	for (int op = 0; op < ISA_OP_COUNT; op++)
		append_stat(buf, size, &len, insn_names[op], insn[op]);
	append_stat(buf, size, &len, "lock_shared", ls.shared_count);
	append_stat(buf, size, &len, "lock_exclusive", ls.exclusive_count);
	append_stat(buf, size, &len, "lock_readers", ls.readers);
	append_stat(buf, size, &len, "lock_waiting_writers", ls.waiting_writers);
	append_stat(buf, size, &len, "lock_longest_wait_us", ls.longest_wait_ns / 1000);
	append_stat(buf, size, &len, "events_listeners", evlog_listeners(st->evlog));
	append_stat(buf, size, &len, "tickets_held", ts.held);
	append_stat(buf, size, &len, "tickets_waiting", ts.waiting);
	append_stat(buf, size, &len, "tickets_longest_wait_us", longest_ticket_wait_us(&ts));
	append_stat(buf, size, &len, "files_files", fst.files);
	append_stat(buf, size, &len, "files_dirs", fst.dirs);
	append_stat(buf, size, &len, "files_bytes", fst.bytes);
	append_stat(buf, size, &len, "files_unlinked", fst.unlinked);
	shop_users_stats(st->users, &logins);
	append_stat(buf, size, &len, "shop_logins", logins.ok);
	append_stat(buf, size, &len, "shop_logins_failed", logins.failed);
	append_stat(buf, size, &len, "shop_logins_throttled", logins.throttled);
	append_stat(buf, size, &len, "shop_purchases",
		    __atomic_load_n(&st->purchases, __ATOMIC_RELAXED));
	append_stat(buf, size, &len, "shop_purchases_refused",
		    __atomic_load_n(&st->purchases_refused, __ATOMIC_RELAXED));
	at = len < size ? len : size;
	len += (size_t)log_format_stats(st->log, buf + at, size - at);
	return (int)len;
}
