/* ctl.c - the instruction file mnt/ctl: one write() is one batch, run all
 * or nothing; reading the same open file returns its outcome as a stream,
 * ignoring the offset, so `exec 3<>mnt/ctl; echo ... >&3; cat <&3` works
 * although the shell's offset is past the written bytes.
 */
#include <stdio.h>
#include <string.h>

#include "../engine/reply.h"
#include "class.h"

static void read_outcome(fuse_req_t req, struct handle *h, size_t size, off_t off, int flags)
{
	(void)off, (void)flags;
	text_read_reply(req, h, size);
}

/* Logs a batch as PROTOCOL promises: its instructions in canonical form,
 * one a line (`ADD 27 N` shows as `ADD N 27`), or as written when it has
 * none or does not parse (the outcome then says what is wrong with it). */
static void log_batch(struct rwfs *fs, fuse_req_t req, const char *buf, size_t size,
		      const struct reply *reply, const char *outcome)
{
	const struct isa_insn *insns = NULL;
	char text[QUOTE_MAX + 64];
	size_t count = 0, len = 0;

	/* The reply holds the instructions as parsed (none when the batch did
	 * not parse, no reply when memory ran out). */
	if (reply)
		insns = reply_insns(reply, &count);
	if (count == 0) {
		log_outcome(fs, req, "ctl", NULL, buf, size, outcome);
		return;
	}
	/* Past QUOTE_MAX bytes the line is cut anyway. */
	for (size_t i = 0; i < count && len <= QUOTE_MAX; i++) {
		size_t n = (size_t)isa_format(&insns[i], text + len, sizeof(text) - len - 1);

		len = len + n < sizeof(text) - 1 ? len + n : sizeof(text) - 2;
		text[len++] = '\n';
	}
	log_outcome(fs, req, "ctl", NULL, text, len, outcome);
}

/* The size is the most one batch may be.  The kernel lets concurrent
 * direct writes of a file run in parallel (FOPEN_PARALLEL_DIRECT_WRITES)
 * only while they end within the size it knows, and every write of a
 * stream starts at 0: so no batch waits for another's write to return. */
static int getattr(struct rwfs *fs, const struct node *node, struct stat *st)
{
	(void)fs, (void)node;
	st->st_size = ISA_MAX_BATCH_BYTES;
	return 0;
}

/* A batch is bounded by isa_parse_batch (65536 bytes, EFBIG), well below
 * the size at which the kernel splits a write. */
static void write_batch(fuse_req_t req, struct handle *h, const char *buf, size_t size,
			off_t off, int flags)
{
	struct rwfs *fs = fs_of(req);
	struct isa_error err = { 0 };
	struct reply *reply = NULL;
	int ret;

	(void)off, (void)flags;
	ret = state_execute(fs->st, buf, size, client_pid(req), &reply, &err);
	if (logging(fs)) {
		char message[ISA_MESSAGE_SIZE + 32];
		const char *outcome = log_outcome_text(ret);

		if (ret && err.errnum) {
			snprintf(message, sizeof(message), "error line %u: %s", err.line,
				 err.message);
			outcome = message;
		}
		log_batch(fs, req, buf, size, reply, outcome);
	}
	text_keep_batch(h, reply);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, size);
}

static void release_batch(struct rwfs *fs, struct handle *h)
{
	(void)fs;
	reply_free(h->batch);
	h->batch = NULL;
}

const struct node_class ctl_class = {
	.ino_base = 29,
	.mode = S_IFREG | 0666,
	.entry_timeout = 86400.0,
	.open_flags = FOPEN_DIRECT_IO | FOPEN_STREAM | FOPEN_PARALLEL_DIRECT_WRITES,
	.getattr = getattr,
	.read = read_outcome,
	.write = write_batch,
	.release = release_batch,
};
