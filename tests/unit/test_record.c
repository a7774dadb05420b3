/* test_record.c - unit tests of the record encoding (fs/engine/record.h):
 * every kind round-trips, bytes of any value survive, every cut or
 * stretched encoding is refused, bounds hold, batches keep their
 * instructions, and the readable form shows what a person needs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "record.h"

static const unsigned char binary[] = { 0, '\n', 0xff, 'a', 0x80, '\r', 0 };

/* One record of kind with every field set to something recognisable. */
static struct record sample(enum record_kind kind)
{
	struct record r = {
		.kind = kind, .session = 77, .seq = 5, .time_ns = 1700000000123456789,
		.pid = 4242, .name = { "jobs", 4 }, .data = { binary, sizeof(binary) },
		.queue = 17, .u = 9, .v = 1ull << 40, .i = -3, .j = INT64_MAX,
		.ticket = 31, .flags = RECORD_TICKET_POSIX | RECORD_TICKET_WAIT,
		.target = { "done", 4 }, .mode = 0644, .uid = 1000, .gid = 100,
	};

	for (int k = 0; k < RECORD_HASH_BYTES; k++)
		r.hash[k] = (uint8_t)(k * 7);
	if (kind == RECORD_BATCH)
		r.data.len = 0;
	return r;
}

static void encode_ok(const struct record *r, struct text *t)
{
	*t = (struct text)TEXT_INIT;
	assert_int_equal(record_encode(r, t), 0);
	assert_false(t->oom);
}

static void test_every_kind_round_trips(void **state)
{
	(void)state;
	for (int kind = RECORD_BATCH; kind < RECORD_KIND_END; kind++) {
		struct record in = sample((enum record_kind)kind), out;
		struct text t, again;
		bool is_queue;

		encode_ok(&in, &t);
		assert_int_equal(record_decode(t.buf, t.len, &out), 0);
		assert_int_equal(out.kind, kind);
		assert_int_equal(out.session, 77);
		assert_int_equal(out.seq, 5);
		assert_int_equal(out.time_ns, in.time_ns);
		assert_int_equal(out.pid, 4242);
		/* every queue kind carries its queue's id, a ticket its file
		 * (but a cancel), a file kind its node (but those that name
		 * it); no other kind does */
		is_queue = (kind >= RECORD_QUEUE_CREATE && kind <= RECORD_QUEUE_HELD) ||
			   kind == RECORD_QUEUE_SETATTR ||
			   (kind >= RECORD_TICKET_LOCK && kind <= RECORD_TICKET_HELD &&
			    kind != RECORD_TICKET_CANCEL) ||
			   (kind >= RECORD_FILE_CREATE && kind <= RECORD_FILE_SETATTR &&
			    kind != RECORD_FILE_RENAME && kind != RECORD_FILE_UNLINK &&
			    kind != RECORD_FILE_RMDIR);
		assert_int_equal(out.queue, is_queue ? 17 : 0);
		/* what the kind carries comes back byte for byte: encoding the
		 * decoded record gives the same bytes */
		encode_ok(&out, &again);
		assert_int_equal(again.len, t.len);
		assert_memory_equal(again.buf, t.buf, t.len);
		text_free(&t);
		text_free(&again);
	}
}

static void test_bytes_of_any_value_survive(void **state)
{
	struct record in = sample(RECORD_QUEUE_PUSH), out;
	struct text t;

	(void)state;
	encode_ok(&in, &t);
	assert_int_equal(record_decode(t.buf, t.len, &out), 0);
	assert_int_equal(out.data.len, sizeof(binary));
	assert_memory_equal(out.data.data, binary, sizeof(binary));
	assert_int_equal(out.name.len, 4);
	assert_memory_equal(out.name.data, "jobs", 4);
	text_free(&t);
}

static void test_cut_or_stretched_encodings_are_refused(void **state)
{
	(void)state;
	for (int kind = RECORD_BATCH; kind < RECORD_KIND_END; kind++) {
		struct record in = sample((enum record_kind)kind), out;
		struct text t;

		encode_ok(&in, &t);
		for (size_t n = 0; n < t.len; n++)
			assert_int_equal(record_decode(t.buf, n, &out), -EBADMSG);
		text_append(&t, "x", 1);
		assert_int_equal(record_decode(t.buf, t.len, &out), -EBADMSG);
		text_free(&t);
	}
}

static void test_bad_version_and_kind_are_refused(void **state)
{
	struct record in = sample(RECORD_QUEUE_DELETE), out;
	struct text t;

	(void)state;
	encode_ok(&in, &t);
	t.buf[0] = RECORD_VERSION + 1;
	assert_int_equal(record_decode(t.buf, t.len, &out), -EBADMSG);
	t.buf[0] = RECORD_VERSION;
	t.buf[1] = 0;
	assert_int_equal(record_decode(t.buf, t.len, &out), -EBADMSG);
	t.buf[1] = RECORD_KIND_END;
	assert_int_equal(record_decode(t.buf, t.len, &out), -EBADMSG);
	text_free(&t);
}

static void test_a_length_past_its_bound_is_refused(void **state)
{
	struct record in = sample(RECORD_QUEUE_DELETE), out;
	char name[RECORD_MAX_NAME + 1];
	struct text t = TEXT_INIT;

	(void)state;
	memset(name, 'a', sizeof(name));
	in.name.data = name;
	in.name.len = sizeof(name);
	assert_int_equal(record_encode(&in, &t), -EINVAL);
	assert_int_equal(t.len, 0);
	/* the same length written by hand: the decoder refuses it too */
	in.name.len = RECORD_MAX_NAME;
	encode_ok(&in, &t);
	t.buf[RECORD_HEADER_BYTES] = (char)(RECORD_MAX_NAME + 1);
	t.buf[RECORD_HEADER_BYTES + 1] = 0;
	assert_int_equal(record_decode(t.buf, t.len, &out), -EBADMSG);
	text_free(&t);
}

static void test_unknown_kind_is_not_encoded(void **state)
{
	struct record in = sample(RECORD_BATCH);
	struct text t = TEXT_INIT;

	(void)state;
	in.kind = RECORD_KIND_END;
	assert_int_equal(record_encode(&in, &t), -EINVAL);
	in.kind = (enum record_kind)0;
	assert_int_equal(record_encode(&in, &t), -EINVAL);
	assert_int_equal(t.len, 0);
}

static const struct isa_insn batch[] = {
	{ .op = ISA_SET, .reg = 0, .src = { false, -7 }, .line = 1 },
	{ .op = ISA_ADD, .reg = 1, .src = { true, 0 }, .line = 2 },
	{ .op = ISA_WRITE, .reg = -1, .src = { true, 25 }, .cell = 100, .line = 3 },
	{ .op = ISA_READ, .reg = 2, .cell = 255, .line = 4 },
	{ .op = ISA_DIV, .reg = 3, .src = { false, INT64_MIN }, .line = 5 },
};
#define NBATCH (sizeof(batch) / sizeof(batch[0]))

static void test_batch_keeps_its_instructions(void **state)
{
	unsigned char data[NBATCH * RECORD_INSN_BYTES];
	struct record in = sample(RECORD_BATCH), out;
	struct isa_insn got[NBATCH];
	struct text t;
	size_t n;

	(void)state;
	in.data.data = data;
	in.data.len = record_put_insns(batch, NBATCH, data);
	assert_int_equal(in.data.len, sizeof(data));
	encode_ok(&in, &t);
	assert_int_equal(record_decode(t.buf, t.len, &out), 0);
	assert_int_equal(record_get_insns(&out, got, NBATCH, &n), 0);
	assert_int_equal(n, NBATCH);
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(got[k].op, batch[k].op);
		assert_int_equal(got[k].reg, batch[k].reg);
		assert_int_equal(got[k].src.is_register, batch[k].src.is_register);
		assert_int_equal(got[k].src.value, batch[k].src.value);
		assert_int_equal(got[k].cell, batch[k].cell);
		assert_int_equal(got[k].line, k + 1);
	}
	assert_int_equal(record_get_insns(&out, got, NBATCH - 1, &n), -EBADMSG);
	text_free(&t);
}

static void test_batch_refuses_what_no_parser_makes(void **state)
{
	static const struct isa_insn bad[] = {
		{ .op = ISA_SET, .reg = 26 },                          /* no such register */
		{ .op = ISA_SET, .reg = 0, .src = { true, 1 } },       /* SET takes a literal */
		{ .op = ISA_ADD, .reg = 0, .src = { true, 26 } },      /* no such source */
		{ .op = ISA_WRITE, .reg = 3, .cell = 1 },              /* WRITE writes no register */
		{ .op = ISA_READ, .reg = 0, .cell = -1 },              /* a negative cell */
		{ .op = (enum isa_op)(ISA_WRITE + 1), .reg = 0 },      /* no such op */
	};
	unsigned char data[RECORD_INSN_BYTES];
	struct record r = { .kind = RECORD_BATCH, .data = { data, sizeof(data) } };
	struct isa_insn got[1];
	size_t n;

	(void)state;
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		record_put_insns(&bad[k], 1, data);
		assert_int_equal(record_get_insns(&r, got, 1, &n), -EBADMSG);
	}
	r.data.len = RECORD_INSN_BYTES - 1;
	assert_int_equal(record_get_insns(&r, got, 1, &n), -EBADMSG);
}

static void test_readable_form(void **state)
{
	unsigned char data[NBATCH * RECORD_INSN_BYTES];
	struct record push = sample(RECORD_QUEUE_PUSH), b = sample(RECORD_BATCH);
	char line[512];

	(void)state;
	record_format(&push, line, sizeof(line));
	assert_non_null(strstr(line, "session 77 seq 5 pid 4242 QUEUE_PUSH \"jobs\""));
	assert_non_null(strstr(line, "\"\\x00\\n\\xffa\\x80\\x0d\\x00\" #17"));
	push.kind = RECORD_QUEUE_POP;
	record_format(&push, line, sizeof(line));
	assert_non_null(strstr(line, "QUEUE_POP \"jobs\" 9 1099511627776 #17"));
	b.data.data = data;
	b.data.len = record_put_insns(batch, 2, data);
	record_format(&b, line, sizeof(line));
	assert_non_null(strstr(line, "BATCH SET A -7; ADD B A"));
	assert_string_equal(record_kind_name(RECORD_SESSION_END), "SESSION_END");
	assert_string_equal(record_kind_name(RECORD_KIND_END), "?");
}

/* The encoding of sample(kind) as version 1 wrote it: without the cut
 * bytes at offset at (its owner, and a queue's mode). */
static void encode_v1(enum record_kind kind, size_t at, size_t cut, struct text *t)
{
	struct record in = sample(kind);

	encode_ok(&in, t);
	memmove(t->buf + at, t->buf + at + cut, t->len - at - cut);
	t->len -= cut;
	t->buf[0] = 1;
}

#define NAME_FIELD (4 + 4) /* "jobs" with its length */

static void test_version_1_creates_are_the_daemons(void **state)
{
	struct record out;
	struct text t;

	(void)state;
	/* QUEUE_CREATE: n u, then (version 2) o m, then q */
	encode_v1(RECORD_QUEUE_CREATE, RECORD_HEADER_BYTES + NAME_FIELD + 8, 8 + 4, &t);
	assert_int_equal(record_decode(t.buf, t.len, &out), 0);
	assert_int_equal(out.kind, RECORD_QUEUE_CREATE);
	assert_int_equal(out.u, 9);
	assert_int_equal(out.queue, 17);
	assert_int_equal(out.uid, RECORD_OWNER_DAEMON);
	assert_int_equal(out.gid, RECORD_OWNER_DAEMON);
	assert_int_equal(out.mode, RECORD_QUEUE_MODE_V1);
	text_free(&t);
	/* FILE_CREATE: u n v m, then (version 2) o, then q */
	encode_v1(RECORD_FILE_CREATE, RECORD_HEADER_BYTES + 8 + NAME_FIELD + 8 + 4, 8, &t);
	assert_int_equal(record_decode(t.buf, t.len, &out), 0);
	assert_int_equal(out.mode, 0644);
	assert_int_equal(out.v, 1ull << 40);
	assert_int_equal(out.queue, 17);
	assert_int_equal(out.uid, RECORD_OWNER_DAEMON);
	text_free(&t);
	/* FILE_SETATTR: v m, then (version 2) o, then j q */
	encode_v1(RECORD_FILE_SETATTR, RECORD_HEADER_BYTES + 8 + 4, 8, &t);
	assert_int_equal(record_decode(t.buf, t.len, &out), 0);
	assert_int_equal(out.mode, 0644);
	assert_int_equal(out.j, INT64_MAX);
	assert_int_equal(out.queue, 17);
	text_free(&t);
	/* a kind version 1 wrote as version 2 does */
	encode_v1(RECORD_QUEUE_DELETE, RECORD_HEADER_BYTES, 0, &t);
	assert_int_equal(record_decode(t.buf, t.len, &out), 0);
	assert_int_equal(out.queue, 17);
	text_free(&t);
}

static void test_version_1_refuses_what_it_did_not_have(void **state)
{
	struct record out;
	struct text t;

	(void)state;
	encode_v1(RECORD_QUEUE_SETATTR, RECORD_HEADER_BYTES, 0, &t);
	assert_int_equal(record_decode(t.buf, t.len, &out), -EBADMSG);
	text_free(&t);
	/* a version 2 create read as version 1 has bytes left over */
	encode_v1(RECORD_QUEUE_CREATE, RECORD_HEADER_BYTES, 0, &t);
	assert_int_equal(record_decode(t.buf, t.len, &out), -EBADMSG);
	t.buf[0] = 0;
	assert_int_equal(record_decode(t.buf, t.len, &out), -EBADMSG);
	text_free(&t);
}

static void test_owners_round_trip_and_read(void **state)
{
	struct record in = sample(RECORD_QUEUE_SETATTR), out;
	char line[512];
	struct text t;

	(void)state;
	in.uid = 65534;
	in.gid = UINT32_MAX - 1;
	encode_ok(&in, &t);
	assert_int_equal(record_decode(t.buf, t.len, &out), 0);
	assert_int_equal(out.uid, 65534);
	assert_int_equal(out.gid, UINT32_MAX - 1);
	assert_int_equal(out.mode, 0644);
	assert_int_equal(out.v, 1ull << 40);
	text_free(&t);
	in.time_ns = 0;
	in.pid = 0;
	record_format(&in, line, sizeof(line));
	assert_string_equal(line, "session 77 seq 5 QUEUE_SETATTR \"jobs\" 1099511627776 "
				  "mode 0644 owner 65534:4294967294 #17");
	in.uid = in.gid = RECORD_OWNER_DAEMON;
	record_format(&in, line, sizeof(line));
	assert_non_null(strstr(line, " owner daemon #17"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_round_trips),
		cmocka_unit_test(test_bytes_of_any_value_survive),
		cmocka_unit_test(test_cut_or_stretched_encodings_are_refused),
		cmocka_unit_test(test_bad_version_and_kind_are_refused),
		cmocka_unit_test(test_a_length_past_its_bound_is_refused),
		cmocka_unit_test(test_unknown_kind_is_not_encoded),
		cmocka_unit_test(test_batch_keeps_its_instructions),
		cmocka_unit_test(test_batch_refuses_what_no_parser_makes),
		cmocka_unit_test(test_readable_form),
		cmocka_unit_test(test_version_1_creates_are_the_daemons),
		cmocka_unit_test(test_version_1_refuses_what_it_did_not_have),
		cmocka_unit_test(test_owners_round_trip_and_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
