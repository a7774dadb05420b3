/* isa.h - the instruction language: parser, formatter and executor.
 *
 * Every change to registers and memory cells is an instruction of this one
 * language, whether it came from mnt/ctl or from `echo 5 > mnt/A` (which is
 * `SET A 5`).  The parser turns text into canonical instructions; the
 * formatter turns them back into the canonical text that the journal and
 * the outcome lines use; the executor runs a batch all or nothing.
 *
 * Canonical forms (operand order normalised, names upper case):
 *   MOV dst src      ADD dst src   SUB dst src   MUL dst src   DIV dst src
 *   SET dst literal  READ dst cell WRITE src cell
 * where dst is a register, src a register or a literal, cell a literal.
 * The source text of MOV is `MOV src dst`; it is printed as written there.
 */
#ifndef RWFS_ISA_H
#define RWFS_ISA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ISA_REGISTERS 26
#define ISA_MAX_BATCH_BYTES 65536 /* a longer batch fails with EFBIG */
#define ISA_MAX_BATCH_LINES 1000  /* more instructions fail with E2BIG */
#define ISA_MESSAGE_SIZE 160

enum isa_op { ISA_MOV, ISA_ADD, ISA_SUB, ISA_MUL, ISA_DIV, ISA_SET, ISA_READ, ISA_WRITE };
#define ISA_OP_COUNT (ISA_WRITE + 1)

struct isa_operand {
	bool is_register;
	int64_t value; /* register index 0..25, or the literal */
};

struct isa_insn {
	enum isa_op op;
	int reg;                /* register written; -1 for WRITE */
	struct isa_operand src; /* value read; unused by READ */
	int64_t cell;           /* memory cell of READ and WRITE */
	unsigned line;          /* 1-based line in the batch text */
};

/* Where a batch failed: the errno, the 1-based line, and a message such as
 * "division by zero" (no line prefix, no newline). */
struct isa_error {
	int errnum;
	unsigned line;
	char message[ISA_MESSAGE_SIZE];
};

/* What the executor works on.  The caller owns the memory and holds the
 * exclusive lock around isa_execute. */
struct isa_machine {
	int64_t regs[ISA_REGISTERS];
	int64_t *cells;
	size_t ncells;
};

/* Parses a decimal int64 with optional sign and surrounding blanks or a
 * trailing newline, as written to a register file.  Returns 0, -EINVAL for
 * anything else (empty, "abc", "1 2", "0x") or -ERANGE out of int64. */
int isa_parse_value(const char *text, size_t len, int64_t *out);

/* Writes v in decimal and a newline, as a register file reads ("-42\n"),
 * as snprintf(buf, size, "%lld\n", v) does: at most size - 1 bytes and a
 * terminating NUL, and returns the whole length (buf may be NULL with
 * size 0). */
int isa_format_value(int64_t v, char *buf, size_t size);

/* Parses a batch: one instruction per line, `#` starts a comment, blank
 * lines are skipped, names are case-insensitive.  Fills insns (room for
 * max entries) and *count.  Returns 0 or -EINVAL (syntax), -ERANGE (a
 * literal out of int64), -EFBIG (over ISA_MAX_BATCH_BYTES), -E2BIG (more
 * than max instructions); *err says where. */
int isa_parse_batch(const char *text, size_t len, struct isa_insn *insns,
		    size_t max, size_t *count, struct isa_error *err);

/* Writes the canonical text of insn ("ADD N 27") into buf, NUL-terminated.
 * Returns the length it needed, like snprintf. */
int isa_format(const struct isa_insn *insn, char *buf, size_t size);

/* Writes the reply line of an instruction that ran, "ok ADD A 1 -> A=5\n"
 * (is_cell: "... -> mem/7=5\n", target the cell), as isa_format writes. */
int isa_format_outcome(const struct isa_insn *insn, bool is_cell, int64_t target,
		       int64_t value, char *buf, size_t size);

/* Called by isa_execute after each instruction with the register or cell it
 * wrote and its new value; is_cell says which. */
typedef void (*isa_outcome_fn)(void *arg, const struct isa_insn *insn,
			       bool is_cell, int64_t target, int64_t value);

/* What an isa_execute changed, so that it can be put back: the registers
 * before the batch, and the old value of each cell it wrote.  The caller
 * provides cells with room for as many entries as instructions. */
struct isa_cell_undo {
	size_t cell;
	int64_t old;
};
struct isa_undo {
	int64_t regs[ISA_REGISTERS];
	struct isa_cell_undo *cells;
	size_t ncells;
};

/* Runs count instructions in order on m, all or nothing: on an error every
 * register and cell is restored, from what undo (the caller's scratch)
 * noted.  outcome (may be NULL) is called for each instruction that ran,
 * even when a later one fails.  Returns 0 or -EDOM
 * (division by zero), -ERANGE (overflow, INT64_MIN / -1), -ENXIO (cell out
 * of range). */
int isa_execute(struct isa_machine *m, const struct isa_insn *insns, size_t count,
		struct isa_undo *undo, isa_outcome_fn outcome, void *arg,
		struct isa_error *err);

/* "ADD" for ISA_ADD.  Never NULL for a valid op. */
const char *isa_op_name(enum isa_op op);

#endif
