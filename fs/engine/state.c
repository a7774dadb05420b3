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

#include "state_priv.h"
#include "text.h"

#define SMALL_BATCH 8 /* instructions handled without a malloc */

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
	st->queues = queues_new(QUEUES_DEFAULT_CAPACITY);
	st->shop = shop_new(NULL, NULL);
	if (!st->machine.cells || !st->evlog || !st->queues || !st->shop ||
	    rwlock_init(&st->lock))
		goto out_free;
	clock_gettime(CLOCK_MONOTONIC, &st->started);
	return st;

out_free:
	shop_free(st->shop);
	queues_free(st->queues);
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
	shop_free(st->shop);
	queues_free(st->queues);
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
	if (cell >= st->machine.ncells)
		return -ENXIO;
	rwlock_read_lock(&st->lock);
	*out = st->machine.cells[cell];
	rwlock_read_unlock(&st->lock);
	state_bump(&st->reads);
	return 0;
}

void state_read_registers(struct state *st, int64_t out[ISA_REGISTERS])
{
	rwlock_read_lock(&st->lock);
	memcpy(out, st->machine.regs, sizeof(st->machine.regs));
	rwlock_read_unlock(&st->lock);
	state_bump(&st->reads);
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

	text_free(r);
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
		text_free(r);
		return ret;
	}
	*text = text_take(r, len);
	return *text ? ret : -ENOMEM;
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
	char small[SMALL_BATCH * 48];
	struct text record = TEXT_ON_STACK(small);
	int ret;

	batch_text(&record, insns, count);
	ret = record.oom ? -ENOMEM : store_append(st->store, record.buf, record.len, ticket);
	text_free(&record);
	if (ret) {
		isa_rollback(&st->machine, undo);
		err->errnum = -ret;
		err->line = 0;
		snprintf(err->message, sizeof(err->message), "cannot save the change: %s",
			 strerror(-ret));
	}
	return ret;
}

static void emit_line(void *arg, const char *line, size_t len)
{
	text_append(arg, line, len);
	text_append(arg, "\n", 1);
}

static void dump_shop(struct state *st, struct text *t)
{
	size_t n = (size_t)shop_dump(st->shop, NULL, 0);
	char *buf = malloc(n + 1);

	if (!buf) {
		t->oom = true;
		return;
	}
	shop_dump(st->shop, buf, n + 1);
	text_append(t, buf, n);
	free(buf);
}

/* The whole state as record lines, for a snapshot.  Under the lock. */
static void dump_state(struct state *st, struct text *t)
{
	for (int r = 0; r < ISA_REGISTERS; r++)
		if (st->machine.regs[r])
			text_printf(t, "SET %c %lld\n", 'A' + r, (long long)st->machine.regs[r]);
	for (size_t c = 0; c < st->machine.ncells; c++)
		if (st->machine.cells[c])
			text_printf(t, "WRITE %lld %zu\n", (long long)st->machine.cells[c], c);
	queues_dump(st->queues, emit_line, t);
	dump_shop(st, t);
}

/* Replaces a journal grown past its bound with a snapshot.  Under the
 * exclusive lock; a failure leaves the journal as it was (the store says
 * why on its notice stream) and is retried after the next change. */
static void compact_if_due(struct state *st)
{
	struct text snapshot = TEXT_INIT;
	size_t len;
	char *text;

	if (!st->store || !store_wants_compaction(st->store))
		return;
	dump_state(st, &snapshot);
	text = text_take(&snapshot, &len);
	if (text)
		store_compact(st->store, text, len);
	free(text);
}

/* Runs a span of instruction lines as one batch, all or nothing.  Under
 * the exclusive lock. */
static int apply_instructions(struct state *st, const char *text, size_t len)
{
	struct isa_insn *insns = malloc(ISA_MAX_BATCH_LINES * sizeof(*insns));
	struct isa_undo undo = { .cells = malloc(ISA_MAX_BATCH_LINES * sizeof(*undo.cells)) };
	struct isa_error err;
	size_t count;
	int ret = insns && undo.cells ? 0 : -ENOMEM;

	if (!ret)
		ret = isa_parse_batch(text, len, insns, ISA_MAX_BATCH_LINES, &count, &err);
	if (!ret)
		ret = isa_execute(&st->machine, insns, count, &undo, NULL, NULL, &err);
	free(undo.cells);
	free(insns);
	return ret;
}

/* Applies one queue or shop record; 1 when line is neither. */
static int apply_record(struct state *st, const char *line, size_t len)
{
	if (queues_is_record(line, len))
		return queues_apply(st->queues, line, len);
	if (shop_is_record(line, len))
		return shop_apply(st->shop, line, len);
	return 1;
}

/* Applies every line of text: queue and shop records one by one, and each
 * run of instruction lines as one batch.  Under the exclusive lock. */
static int apply_lines(struct state *st, const char *text, size_t len)
{
	size_t pos = 0, span = 0; /* span: start of the pending instruction lines */
	int ret = 0;

	while (!ret && pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - text) - pos : len - pos;

		if (queues_is_record(text + pos, n) || shop_is_record(text + pos, n)) {
			if (span < pos)
				ret = apply_instructions(st, text + span, pos - span);
			if (!ret)
				ret = apply_record(st, text + pos, n);
			span = pos + n + 1;
		}
		pos += n + 1;
	}
	if (!ret && span < len)
		ret = apply_instructions(st, text + span, len - span);
	return ret;
}

int state_commit_locked(struct state *st, const char *record, size_t len, uint64_t *ticket)
{
	int ret = 0;

	*ticket = 0;
	if (st->store)
		ret = store_append(st->store, record, len, ticket);
	if (!ret && apply_lines(st, record, len) != 0)
		ret = -EIO;
	if (!ret)
		compact_if_due(st);
	return ret;
}

int state_commit_wait(struct state *st, uint64_t ticket)
{
	return st->store ? store_commit(st->store, ticket) : 0;
}

int state_apply(struct state *st, const struct isa_insn *insns, size_t count,
		char **reply, size_t *reply_len, struct isa_error *err)
{
	struct isa_cell_undo small_undo[SMALL_BATCH];
	struct text r = TEXT_INIT;
	struct isa_error local;
	struct isa_undo undo;
	uint64_t ticket = 0;
	int ret;

	if (!err)
		err = &local;
	/* Most batches are one instruction (every value write is): no malloc
	 * for them on this hot path. */
	undo.cells = count <= SMALL_BATCH ? small_undo : malloc(count * sizeof(*undo.cells));
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
		compact_if_due(st);
	}
	rwlock_write_unlock(&st->lock);
	if (undo.cells != small_undo)
		free(undo.cells);

	/* Outside the lock, so that concurrent writers share one fdatasync. */
	if (!ret)
		ret = state_commit_wait(st, ticket);
	state_bump(&st->batches);
	if (ret)
		state_bump(&st->batch_errors);
	if (ret && reply)
		error_line(&r, failed_insn(insns, count, err->line), err);
	return finish_reply(&r, reply, reply_len, ret);
}

/* The number of lines of text, counting a final one without newline. */
static size_t lines_in(const char *text, size_t len)
{
	size_t n = 1;

	for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))); p++)
		n++;
	return n;
}

int state_execute(struct state *st, const char *text, size_t len,
		  char **reply, size_t *reply_len, struct isa_error *err)
{
	struct isa_insn small[SMALL_BATCH], *insns = small;
	struct text r = TEXT_INIT;
	struct isa_error local;
	size_t count, room = lines_in(text, len);
	int ret;

	if (!err)
		err = &local;
	/* A batch has at most as many instructions as lines. */
	if (room > ISA_MAX_BATCH_LINES)
		room = ISA_MAX_BATCH_LINES;
	if (room > SMALL_BATCH)
		insns = malloc(room * sizeof(*insns));
	if (!insns)
		return -ENOMEM;
	ret = isa_parse_batch(text, len, insns, room, &count, err);
	if (ret) {
		state_bump(&st->batches);
		state_bump(&st->batch_errors);
		if (reply)
			error_line(&r, NULL, err);
		ret = finish_reply(&r, reply, reply_len, ret);
		goto out;
	}
	ret = state_apply(st, insns, count, reply, reply_len, err);
out:
	if (insns != small)
		free(insns);
	return ret;
}

int state_restore(void *arg, const char *text, size_t len)
{
	struct state *st = arg;
	int ret;

	rwlock_write_lock(&st->lock);
	ret = apply_lines(st, text, len);
	rwlock_write_unlock(&st->lock);
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
