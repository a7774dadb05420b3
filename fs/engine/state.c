/* state.c - registers, memory cells, their lock and counters.  See state.h.
 *
 * Counters that readers bump are atomics, so that readers sharing the lock
 * do not need another one; counters of mutations live under the exclusive
 * lock.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rwlock.h"
#include "state.h"
#include "store.h"

struct state {
	struct rwlock lock;
	struct isa_machine machine;      /* under lock */
	uint64_t insn_count[ISA_OP_COUNT]; /* under lock (exclusive) */
	uint64_t batches;                /* atomic: parse errors count without the lock */
	uint64_t batch_errors;           /* atomic */
	uint64_t reads;                  /* atomic */
	struct timespec started;
	struct evlog *evlog;
	struct store *store;             /* NULL: nothing is saved */
};

struct state *state_new(size_t ncells, FILE *console)
{
	struct state *st;

	if (ncells == 0 || ncells > STATE_MAX_CELLS)
		return NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->machine.cells = calloc(ncells, sizeof(int64_t));
	st->machine.ncells = ncells;
	st->evlog = evlog_new(console);
	if (!st->machine.cells || !st->evlog || rwlock_init(&st->lock))
		goto out_free;
	clock_gettime(CLOCK_MONOTONIC, &st->started);
	return st;

out_free:
	evlog_free(st->evlog);
	free(st->machine.cells);
	free(st);
	return NULL;
}

void state_free(struct state *st)
{
	if (!st)
		return;
	store_close(st->store);
	rwlock_release(&st->lock);
	evlog_free(st->evlog);
	free(st->machine.cells);
	free(st);
}

size_t state_ncells(const struct state *st)
{
	return st->machine.ncells;
}

struct evlog *state_evlog(struct state *st)
{
	return st->evlog;
}

static void bump(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

int64_t state_read_register(struct state *st, int reg)
{
	int64_t v;

	rwlock_read_lock(&st->lock);
	v = st->machine.regs[reg];
	rwlock_read_unlock(&st->lock);
	bump(&st->reads);
	return v;
}

int state_read_cell(struct state *st, size_t cell, int64_t *out)
{
	if (cell >= st->machine.ncells)
		return -ENXIO;
	rwlock_read_lock(&st->lock);
	*out = st->machine.cells[cell];
	rwlock_read_unlock(&st->lock);
	bump(&st->reads);
	return 0;
}

void state_read_registers(struct state *st, int64_t out[ISA_REGISTERS])
{
	rwlock_read_lock(&st->lock);
	memcpy(out, st->machine.regs, sizeof(st->machine.regs));
	rwlock_read_unlock(&st->lock);
	bump(&st->reads);
}

/* A growing text: the reply of a batch, its journal record, a snapshot. */
struct text {
	char *text;
	size_t len;
	size_t cap;
	bool oom;
};

static void text_printf(struct text *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void text_printf(struct text *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(r->text + r->len, r->cap - r->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			r->oom = true;
			return;
		}
		if ((size_t)n < r->cap - r->len)
			break;
		size_t cap = 2 * r->cap + (size_t)n + 64;
		char *text = realloc(r->text, cap);

		if (!text) {
			r->oom = true;
			return;
		}
		r->text = text;
		r->cap = cap;
	}
	r->len += (size_t)n;
}

static void outcome_line(void *arg, const struct isa_insn *in, bool is_cell,
			 int64_t target, int64_t value)
{
	char text[64];

	isa_format(in, text, sizeof(text));
	if (is_cell)
		text_printf(arg, "ok %s -> mem/%lld=%lld\n", text, (long long)target,
			     (long long)value);
	else
		text_printf(arg, "ok %s -> %c=%lld\n", text, (char)('A' + target),
			     (long long)value);
}

/* Replaces whatever the reply holds with the one error line. */
static void error_line(struct text *r, const struct isa_insn *in,
		       const struct isa_error *err)
{
	char text[64] = "";

	r->len = 0;
	if (in) {
		isa_format(in, text, sizeof(text));
		text_printf(r, "error line %u: %s: %s\n", err->line, text, err->message);
	} else if (err->line) {
		text_printf(r, "error line %u: %s\n", err->line, err->message);
	} else {
		text_printf(r, "error: %s\n", err->message);
	}
}

static int finish_reply(struct text *r, char **text, size_t *len, int ret)
{
	if (!text) {
		free(r->text);
		return ret;
	}
	if (!r->oom && !r->text)
		r->text = calloc(1, 1);
	if (r->oom || !r->text) {
		free(r->text);
		return -ENOMEM;
	}
	*text = r->text;
	*len = r->len;
	return ret;
}

static const struct isa_insn *failed_insn(const struct isa_insn *insns, size_t count,
					  unsigned line)
{
	for (size_t i = 0; i < count; i++)
		if (insns[i].line == line)
			return &insns[i];
	return NULL;
}

/* The canonical text of a batch, one instruction per line: its journal
 * record. */
static void batch_text(struct text *t, const struct isa_insn *insns, size_t count)
{
	char line[64];

	for (size_t i = 0; i < count; i++) {
		isa_format(&insns[i], line, sizeof(line));
		text_printf(t, "%s\n", line);
	}
}

/* Journals a batch that ran; takes it back when that fails.  Under the
 * exclusive lock. */
static int journal_batch(struct state *st, const struct isa_insn *insns, size_t count,
			 struct isa_undo *undo, uint64_t *ticket, struct isa_error *err)
{
	struct text record = { 0 };
	int ret;

	batch_text(&record, insns, count);
	ret = record.oom ? -ENOMEM : store_append(st->store, record.text, record.len, ticket);
	free(record.text);
	if (ret) {
		isa_rollback(&st->machine, undo);
		err->errnum = -ret;
		err->line = 0;
		snprintf(err->message, sizeof(err->message), "cannot save the change: %s",
			 strerror(-ret));
	}
	return ret;
}

/* The whole state as instructions, for a snapshot.  Under the lock. */
static void dump_state(struct state *st, struct text *t)
{
	for (int r = 0; r < ISA_REGISTERS; r++)
		if (st->machine.regs[r])
			text_printf(t, "SET %c %lld\n", 'A' + r, (long long)st->machine.regs[r]);
	for (size_t c = 0; c < st->machine.ncells; c++)
		if (st->machine.cells[c])
			text_printf(t, "WRITE %lld %zu\n", (long long)st->machine.cells[c], c);
}

/* Replaces a journal grown past its bound with a snapshot.  Under the
 * exclusive lock; a failure leaves the journal as it was (the store says
 * why on its notice stream) and is retried after the next batch. */
static void compact_if_due(struct state *st)
{
	struct text snapshot = { 0 };

	if (!store_wants_compaction(st->store))
		return;
	dump_state(st, &snapshot);
	if (!snapshot.oom)
		store_compact(st->store, snapshot.text ? snapshot.text : "", snapshot.len);
	free(snapshot.text);
}

int state_apply(struct state *st, const struct isa_insn *insns, size_t count,
		char **reply, size_t *reply_len, struct isa_error *err)
{
	struct text r = { 0 };
	struct isa_error local;
	struct isa_undo undo;
	uint64_t ticket = 0;
	int ret;

	if (!err)
		err = &local;
	undo.cells = malloc((count ? count : 1) * sizeof(*undo.cells));
	if (!undo.cells)
		return -ENOMEM;
	rwlock_write_lock(&st->lock);
	ret = isa_execute(&st->machine, insns, count, &undo,
			  reply ? outcome_line : NULL, &r, err);
	if (!ret && st->store)
		ret = journal_batch(st, insns, count, &undo, &ticket, err);
	if (!ret) {
		for (size_t i = 0; i < count; i++)
			st->insn_count[insns[i].op]++;
		if (st->store)
			compact_if_due(st);
	}
	rwlock_write_unlock(&st->lock);
	free(undo.cells);

	/* Outside the lock, so that concurrent writers share one fdatasync. */
	if (!ret && st->store)
		ret = store_commit(st->store, ticket);
	bump(&st->batches);
	if (ret)
		bump(&st->batch_errors);
	if (ret && reply)
		error_line(&r, failed_insn(insns, count, err->line), err);
	return finish_reply(&r, reply, reply_len, ret);
}

int state_execute(struct state *st, const char *text, size_t len,
		  char **reply, size_t *reply_len, struct isa_error *err)
{
	struct text r = { 0 };
	struct isa_error local;
	struct isa_insn *insns;
	size_t count;
	int ret;

	if (!err)
		err = &local;
	insns = malloc(ISA_MAX_BATCH_LINES * sizeof(*insns));
	if (!insns)
		return -ENOMEM;
	ret = isa_parse_batch(text, len, insns, ISA_MAX_BATCH_LINES, &count, err);
	if (ret) {
		bump(&st->batches);
		bump(&st->batch_errors);
		if (reply)
			error_line(&r, NULL, err);
		ret = finish_reply(&r, reply, reply_len, ret);
		goto out;
	}
	ret = state_apply(st, insns, count, reply, reply_len, err);
out:
	free(insns);
	return ret;
}

int state_restore(void *arg, const char *text, size_t len)
{
	struct state *st = arg;
	struct isa_error err;
	struct isa_insn *insns;
	struct isa_undo undo;
	size_t count;
	int ret;

	insns = malloc(ISA_MAX_BATCH_LINES * sizeof(*insns));
	undo.cells = malloc(ISA_MAX_BATCH_LINES * sizeof(*undo.cells));
	ret = insns && undo.cells ? 0 : -ENOMEM;
	if (!ret)
		ret = isa_parse_batch(text, len, insns, ISA_MAX_BATCH_LINES, &count, &err);
	if (!ret) {
		rwlock_write_lock(&st->lock);
		ret = isa_execute(&st->machine, insns, count, &undo, NULL, NULL, &err);
		rwlock_write_unlock(&st->lock);
	}
	free(undo.cells);
	free(insns);
	return ret ? -EBADMSG : 0;
}

void state_attach_store(struct state *st, struct store *store)
{
	st->store = store;
}

static void append_stat(char *buf, size_t size, size_t *len, const char *name,
			uint64_t value)
{
	size_t at = *len < size ? *len : size;

	*len += (size_t)snprintf(buf + at, size - at, "%s %llu\n", name,
				 (unsigned long long)value);
}

int state_format_stats(struct state *st, char *buf, size_t size)
{
	static const char *const insn_names[ISA_OP_COUNT] = {
		[ISA_MOV] = "insn_mov", [ISA_ADD] = "insn_add", [ISA_SUB] = "insn_sub",
		[ISA_MUL] = "insn_mul", [ISA_DIV] = "insn_div", [ISA_SET] = "insn_set",
		[ISA_READ] = "insn_read", [ISA_WRITE] = "insn_write",
	};
	struct rwlock_stats ls;
	struct timespec now;
	uint64_t insn[ISA_OP_COUNT];
	size_t len = 0;

	rwlock_read_lock(&st->lock);
	memcpy(insn, st->insn_count, sizeof(insn));
	rwlock_read_unlock(&st->lock);
	rwlock_get_stats(&st->lock, &ls);
	clock_gettime(CLOCK_MONOTONIC, &now);

	append_stat(buf, size, &len, "uptime_seconds",
		    (uint64_t)(now.tv_sec - st->started.tv_sec));
	append_stat(buf, size, &len, "reads", __atomic_load_n(&st->reads, __ATOMIC_RELAXED));
	append_stat(buf, size, &len, "batches",
		    __atomic_load_n(&st->batches, __ATOMIC_RELAXED));
	append_stat(buf, size, &len, "batch_errors",
		    __atomic_load_n(&st->batch_errors, __ATOMIC_RELAXED));
	for (int op = 0; op < ISA_OP_COUNT; op++)
		append_stat(buf, size, &len, insn_names[op], insn[op]);
	append_stat(buf, size, &len, "lock_shared", ls.shared_count);
	append_stat(buf, size, &len, "lock_exclusive", ls.exclusive_count);
	append_stat(buf, size, &len, "lock_readers", ls.readers);
	append_stat(buf, size, &len, "lock_waiting_writers", ls.waiting_writers);
	append_stat(buf, size, &len, "lock_longest_wait_us", ls.longest_wait_ns / 1000);
	append_stat(buf, size, &len, "events_listeners", evlog_listeners(st->evlog));
	return (int)len;
}
