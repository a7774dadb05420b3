/* reply.h - the reply to a batch of instructions, kept as what the batch
 * did until someone reads it.
 *
 * The reply of a batch is a line per instruction that ran ("ok ADD A 1 ->
 * A=42\n") or one error line.  Most writers of mnt/ctl never read it, so a
 * reply holds the instructions and the value each left, and makes its
 * text only when asked: the writer pays for a copy, not for the printing.
 * It holds at most the instructions of one batch (ISA_MAX_BATCH_LINES).
 */
#ifndef RWFS_REPLY_H
#define RWFS_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "isa.h"

struct reply;

/* A reply to the count instructions of insns (copied; NULL with count 0),
 * none of which has run yet.  NULL when out of memory. */
struct reply *reply_new(const struct isa_insn *insns, size_t count);

/* A reply with room for max instructions and none yet, so that a batch is
 * parsed straight into it: reply_room is where they go, reply_set_count
 * says how many there are.  NULL when out of memory. */
struct reply *reply_reserve(size_t max);

/* The room of a reply from reply_reserve: max instructions, r keeps it. */
struct isa_insn *reply_room(struct reply *r);

/* The reply is to the first count (at most max) instructions of its room,
 * none of which has run yet. */
void reply_set_count(struct reply *r, size_t count);

/* Notes what the next instruction did, as an isa_outcome_fn with arg the
 * reply: it only stores, as the exclusive lock is held around it.  Calls
 * past the count of reply_new are ignored. */
void reply_note(void *arg, const struct isa_insn *insn, bool is_cell, int64_t target,
		int64_t value);

/* Makes the reply the error line of err instead of the outcomes: "error
 * line N: TEXT: MESSAGE\n" with failed (may be NULL, copied) the
 * instruction that failed, else "error line N: MESSAGE\n", or "error:
 * MESSAGE\n" when err has no line. */
void reply_fail(struct reply *r, const struct isa_insn *failed, const struct isa_error *err);

/* The text of the reply in *text (malloc'd, NUL-terminated, the caller
 * frees it) and its length in *len: the lines of the instructions noted,
 * in order, or the error line.  Returns 0 or -ENOMEM. */
int reply_text(const struct reply *r, char **text, size_t *len);

/* The instructions of the reply, and their count in *count (0 for the
 * reply of a batch that did not parse); r keeps them. */
const struct isa_insn *reply_insns(const struct reply *r, size_t *count);

/* Frees r (NULL is fine). */
void reply_free(struct reply *r);

#endif
