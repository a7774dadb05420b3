/* fuzz_apply.c - libFuzzer harness of apply with records that make sense:
 * the input is read as a program, each step a record of some kind with
 * fields drawn from small sets (three queue names, ids near the positions
 * that made queues, short items, two sessions), so that most records reach
 * deep into apply instead of being refused at the first check, as random
 * bytes are (fuzz_replay.c covers those).
 *
 * The records go into a memory log that one state follows; then the
 * state must survive a snapshot (a second state loaded from it has the same
 * digest) and a replay (a third state that follows a copy of the log has
 * the same digest): apply is deterministic and its snapshot is whole.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "record.h"
#include "state.h"

#define SESSION 7 /* the first record opens it; session 8 is never opened */

struct program {
	const uint8_t *p;
	size_t left;
	uint64_t position; /* of the last record appended */
};

static unsigned next(struct program *pg)
{
	if (!pg->left)
		return 0;
	pg->left--;
	return *pg->p++;
}

static const char *const names[] = { "jobs", "q", "bad/name" };
static const char *const items[] = { "a\n", "b\nc\n", "", "\n", "x" };

static void pick_name(struct program *pg, struct record *r)
{
	const char *name = names[next(pg) % 3];

	r->name.data = name;
	r->name.len = strlen(name);
}

static void pick_batch(struct program *pg, struct record *r, unsigned char *buf)
{
	struct isa_insn insns[4];
	size_t n = next(pg) % 4 + 1;

	for (size_t k = 0; k < n; k++) {
		unsigned b = next(pg);

		insns[k] = (struct isa_insn){ .op = (enum isa_op)(b % ISA_OP_COUNT),
					      .reg = (int)(next(pg) % 3),
					      .src = { false, (int64_t)next(pg) - 128 } };
		if (insns[k].op == ISA_WRITE)
			insns[k].reg = -1;
		if (insns[k].op == ISA_READ || insns[k].op == ISA_WRITE)
			insns[k].cell = next(pg) % 20;
		else if (b & 0x80 && insns[k].op != ISA_SET)
			insns[k].src = (struct isa_operand){ true, next(pg) % 3 };
	}
	r->data.data = buf;
	r->data.len = record_put_insns(insns, n, buf);
}

/* Two files, three owners, overlapping ranges, a ticket number near the
 * positions that asked. */
static void pick_ticket(struct program *pg, struct record *r)
{
	unsigned b = next(pg);

	r->queue = 2 + b % 2;
	r->u = next(pg) % 3;
	r->flags = next(pg) % 8;
	r->i = next(pg) % 16;
	r->j = b & 0x80 ? -1 : r->i + next(pg) % 16;
	r->ticket = pg->position - next(pg) % 8;
	r->pid = 100 + (uint32_t)r->u;
}

/* Fills r with the next step's record; buf holds a batch's bytes. */
static void pick_record(struct program *pg, struct record *r, unsigned char *buf)
{
	static const enum record_kind kinds[] = {
		RECORD_BATCH, RECORD_QUEUE_CREATE, RECORD_QUEUE_DELETE, RECORD_QUEUE_PUSH,
		RECORD_QUEUE_POP, RECORD_QUEUE_ACK, RECORD_QUEUE_RETURN, RECORD_QUEUE_SEAL,
		RECORD_QUEUE_CAPACITY, RECORD_PRODUCT, RECORD_CELLS, RECORD_SESSION_END,
		RECORD_TICKET_LOCK, RECORD_TICKET_UNLOCK, RECORD_TICKET_RELEASE,
		RECORD_TICKET_CANCEL,
	};
	unsigned b = next(pg);

	*r = (struct record){ .kind = kinds[b % (sizeof(kinds) / sizeof(kinds[0]))],
			      .session = b & 0x80 ? SESSION + 1 : SESSION,
			      .seq = pg->position + 1 - (next(pg) % 4) };
	if (r->kind == RECORD_BATCH) {
		pick_batch(pg, r, buf);
		return;
	}
	if (r->kind >= RECORD_TICKET_LOCK) {
		pick_ticket(pg, r);
		return;
	}
	pick_name(pg, r);
	r->u = next(pg) % 5;
	r->v = next(pg) % 3 ? 4096 : 1;
	/* near the positions so far: often a queue's id, sometimes not */
	r->queue = pg->position > 4 ? pg->position - next(pg) % 8 : 0;
	if (r->kind == RECORD_QUEUE_CREATE)
		r->queue = next(pg) % 8 ? 0 : r->queue;
	if (r->kind == RECORD_QUEUE_PUSH) {
		const char *item = items[next(pg) % 5];

		r->data.data = item;
		r->data.len = strlen(item);
	}
	if (r->kind == RECORD_PRODUCT) {
		r->i = 1000 + next(pg) % 3;
		r->j = (int64_t)next(pg) - 16;
	}
	if (r->kind == RECORD_CELLS)
		r->u = 16 + next(pg) % 8;
	if (r->kind == RECORD_SESSION_END)
		r->v = b & 0x40 ? SESSION : SESSION + 1;
}

static void append(struct log *log, struct program *pg, const struct record *r)
{
	struct text encoded = TEXT_INIT;

	if (record_encode(r, &encoded) ||
	    log_append(log, encoded.buf, encoded.len, &pg->position))
		abort();
	text_free(&encoded);
}

static void digest_of(struct state *st, char hex[STATE_DIGEST_HEX + 1])
{
	uint64_t at;

	if (state_digest(st, &at, hex))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char want[STATE_DIGEST_HEX + 1], got[STATE_DIGEST_HEX + 1], msg[160];
	struct program pg = { data, size, 0 };
	struct state *st = state_new(NULL), *loaded = state_new(NULL);
	struct state *replayed = state_new(NULL);
	struct log *log = log_memory_new();
	unsigned char batch[4 * RECORD_INSN_BYTES];
	struct record r = { .kind = RECORD_SESSION_OPEN, .session = SESSION, .seq = 1,
			    .u = SESSION };

	if (!st || !loaded || !replayed || !log)
		abort();
	append(log, &pg, &r);
	for (int steps = 0; pg.left && steps < 200; steps++) {
		pick_record(&pg, &r, batch);
		append(log, &pg, &r);
	}
	if (state_attach_log(st, log, msg, sizeof(msg)) ||
	    state_attach_log(replayed, log_memory_copy(log), msg, sizeof(msg)))
		abort();
	digest_of(st, want);
	digest_of(replayed, got);
	if (strcmp(want, got))
		abort();
	if (state_compact(st) ||
	    state_attach_log(loaded, log_memory_copy(state_log(st)), msg, sizeof(msg)))
		abort();
	digest_of(loaded, got);
	if (strcmp(want, got))
		abort();
	state_free(st);
	state_free(loaded);
	state_free(replayed);
	return 0;
}
