/* reply.c - the reply to a batch, printed when read.  See reply.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "text.h"

/* What one instruction left: the register or cell it wrote, and the value. */
struct result {
	bool is_cell;
	int64_t target, value;
};

struct reply {
	size_t count, noted;
	bool failed;
	bool failed_known; /* failed_insn is the instruction that failed */
	struct isa_insn failed_insn;
	struct isa_error err;
	struct result *results; /* room for max, after insns in the same block */
	struct isa_insn insns[];
};

struct reply *reply_reserve(size_t max)
{
	struct reply *r = malloc(sizeof(*r) + max * (sizeof(*r->insns) + sizeof(*r->results)));

	if (!r)
		return NULL;
	r->count = 0;
	r->noted = 0;
	r->failed = false;
	r->failed_known = false;
	r->results = (struct result *)(r->insns + max);
	return r;
}

struct isa_insn *reply_room(struct reply *r)
{
	return r->insns;
}

void reply_set_count(struct reply *r, size_t count)
{
	r->count = count;
}

struct reply *reply_new(const struct isa_insn *insns, size_t count)
{
	struct reply *r = reply_reserve(count);

	if (!r)
		return NULL;
	if (count)
		memcpy(r->insns, insns, count * sizeof(*insns));
	r->count = count;
	return r;
}

void reply_note(void *arg, const struct isa_insn *insn, bool is_cell, int64_t target,
		int64_t value)
{
	struct reply *r = arg;

	(void)insn; /* the caller's copy, with the client's line numbers, is kept */
	if (r->noted < r->count)
		r->results[r->noted++] = (struct result){ is_cell, target, value };
}

void reply_fail(struct reply *r, const struct isa_insn *failed, const struct isa_error *err)
{
	r->failed = true;
	r->failed_known = failed != NULL;
	if (failed)
		r->failed_insn = *failed;
	r->err = *err;
}

static void put_error(struct text *t, const struct reply *r)
{
	char insn[64] = "";

	if (r->failed_known) {
		isa_format(&r->failed_insn, insn, sizeof(insn));
		text_printf(t, "error line %u: %s: %s\n", r->failed_insn.line, insn,
			    r->err.message);
	} else if (r->err.line) {
		text_printf(t, "error line %u: %s\n", r->err.line, r->err.message);
	} else {
		text_printf(t, "error: %s\n", r->err.message);
	}
}

static void put_outcomes(struct text *t, const struct reply *r)
{
	char line[128];

	for (size_t k = 0; k < r->noted; k++) {
		const struct result *res = &r->results[k];
		int len = isa_format_outcome(&r->insns[k], res->is_cell, res->target, res->value,
					     line, sizeof(line));

		text_append(t, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
	}
}

int reply_text(const struct reply *r, char **text, size_t *len)
{
	struct text t = TEXT_INIT;

	if (r->failed)
		put_error(&t, r);
	else
		put_outcomes(&t, r);
	*text = text_take(&t, len);
	return *text ? 0 : -ENOMEM;
}

const struct isa_insn *reply_insns(const struct reply *r, size_t *count)
{
	*count = r->count;
	return r->insns;
}

void reply_free(struct reply *r)
{
	free(r);
}
