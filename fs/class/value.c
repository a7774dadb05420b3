/* value.c - registers A..Z and memory cells mem/N: a read is a snapshot of
 * the value ("42\n"), a write is one whole value, made the instruction
 * SET (register) or WRITE (cell).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "class.h"

/* Most bytes of one value write.  The kernel splits a longer write() into
 * pieces and would hand the first one over as if it were the whole value;
 * nothing longer than a page is ever split, and no value needs more. */
#define VALUE_WRITE_MAX 4096

static int format_register(struct rwfs *fs, const struct node *node, char *buf, size_t size)
{
	return isa_format_value(state_read_register(fs->st, (int)node->index), buf, size);
}

static int format_cell(struct rwfs *fs, const struct node *node, char *buf, size_t size)
{
	int64_t v;

	if (state_read_cell(fs->st, node->index, &v))
		v = 0;
	return isa_format_value(v, buf, size);
}

static void read_value(fuse_req_t req, struct handle *h, size_t size, off_t off, int flags)
{
	(void)flags;
	text_read_snapshot(req, h, size, off, true);
}

/* Applies insn (its value already parsed into insn->src, or ret an error
 * of the parse), logs the write and replies. */
static void apply_value(fuse_req_t req, struct handle *h, struct isa_insn *insn, int ret,
			const char *buf, size_t size)
{
	struct rwfs *fs = fs_of(req);
	struct isa_error err;

	err.errnum = 0; /* the message is written only with an error */
	if (!ret)
		ret = state_run(fs->st, insn, 1, client_pid(req), NULL, &err);
	if (logging(fs)) {
		char message[ISA_MESSAGE_SIZE + 16];
		const char *outcome = log_outcome_text(ret);

		if (ret && err.errnum) {
			snprintf(message, sizeof(message), "error: %s", err.message);
			outcome = message;
		}
		log_outcome(fs, req, "write", h->node, buf, size, outcome);
	}
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, size);
}

static int parse_value(const char *buf, size_t size, struct isa_insn *insn)
{
	return size > VALUE_WRITE_MAX ? -EFBIG : isa_parse_value(buf, size, &insn->src.value);
}

static void write_register(fuse_req_t req, struct handle *h, const char *buf, size_t size,
			   off_t off, int flags)
{
	struct isa_insn insn = { .line = 1, .op = ISA_SET, .reg = (int)h->node->index };

	(void)off, (void)flags;
	apply_value(req, h, &insn, parse_value(buf, size, &insn), buf, size);
}

static void write_cell(fuse_req_t req, struct handle *h, const char *buf, size_t size,
		       off_t off, int flags)
{
	struct isa_insn insn = { .line = 1, .op = ISA_WRITE, .reg = -1,
				 .cell = (int64_t)h->node->index };

	(void)off, (void)flags;
	apply_value(req, h, &insn, parse_value(buf, size, &insn), buf, size);
}

const struct node_class register_class = {
	.ino_base = 2,
	.mode = S_IFREG | 0666,
	.entry_timeout = 86400.0,
	.open_flags = FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES,
	.format = format_register,
	.read = read_value,
	.write = write_register,
};

const struct node_class cell_class = {
	.ino_base = 1024,
	.mode = S_IFREG | 0666,
	.entry_timeout = 86400.0,
	.open_flags = FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES,
	.format = format_cell,
	.read = read_value,
	.write = write_cell,
};
