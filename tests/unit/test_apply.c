/* test_apply.c - unit tests of the one apply function (fs/engine/apply.c)
 * through the state: records of every kind replayed into a second state
 * give the same digest; a snapshot keeps the digest and the queues' ids; a
 * record that breaks a bound, is about a queue deleted (even one made again
 * under its name), comes from a session that is not open, or repeats,
 * changes nothing; a session that ends gives back what its readers held;
 * owners and modes come through a snapshot and a replay, records of
 * version 1 among them.
 *
 * Records are written straight into a memory log (fs/log/memory.h), as a
 * damaged journal or another host could hand them over, and a state
 * follows that log.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../fs/log/memory.h"
#include "state.h"
#include "record.h"

#define SESSION 1000

/* Appends r and returns its position. */
static uint64_t append(struct log *log, struct record r)
{
	struct text t = TEXT_INIT;
	uint64_t position;

	assert_int_equal(record_encode(&r, &t), 0);
	assert_int_equal(log_append(log, t.buf, t.len, &position), 0);
	text_free(&t);
	return position;
}

/* A record of the test's session, with the next sequence. */
static struct record rec(enum record_kind kind)
{
	static uint64_t seq;

	return (struct record){ .kind = kind, .session = SESSION, .seq = ++seq };
}

static struct record named(enum record_kind kind, const char *name)
{
	struct record r = rec(kind);

	r.name.data = name;
	r.name.len = strlen(name);
	return r;
}

/* A memory log whose first record opens the test's session. */
static struct log *session_log(void)
{
	struct log *log = log_memory_new();
	struct record r = rec(RECORD_SESSION_OPEN);

	assert_non_null(log);
	r.u = SESSION;
	append(log, r);
	return log;
}

/* A record about the queue id called name. */
static struct record about(enum record_kind kind, const char *name, uint64_t id)
{
	struct record r = named(kind, name);

	r.queue = id;
	return r;
}

static struct record batch(const struct isa_insn *in, size_t n, unsigned char *data)
{
	struct record r = rec(RECORD_BATCH);

	r.data.data = data;
	r.data.len = record_put_insns(in, n, data);
	return r;
}

/* A new state that follows log. */
static struct state *follower(struct log *log)
{
	struct state *st = state_new(NULL);
	char msg[160];

	assert_non_null(st);
	assert_int_equal(state_attach_log(st, log, msg, sizeof(msg)), 0);
	return st;
}

static void digest_of(struct state *st, char hex[STATE_DIGEST_HEX + 1])
{
	uint64_t applied;

	assert_int_equal(state_digest(st, &applied, hex), 0);
}

/* The id of "jobs" in every_kind: the position of its QUEUE_CREATE. */
static uint64_t jobs;

/* A history with a record of every kind; returns the log. */
static struct log *every_kind(void)
{
	static const struct isa_insn set[] = {
		{ .op = ISA_SET, .reg = 0, .src = { false, 41 } },
		{ .op = ISA_ADD, .reg = 0, .src = { false, 1 } },
		{ .op = ISA_WRITE, .reg = -1, .src = { true, 0 }, .cell = 7 },
	};
	static const struct isa_insn div0[] = {
		{ .op = ISA_SET, .reg = 1, .src = { false, 5 } },
		{ .op = ISA_DIV, .reg = 1, .src = { false, 0 } },
	};
	unsigned char data[8 * RECORD_INSN_BYTES];
	struct log *log = session_log();
	struct record r;

	r = rec(RECORD_CELLS);
	r.u = 300;
	append(log, r);
	append(log, batch(set, 3, data));
	append(log, batch(div0, 2, data));                 /* refused: nothing changes */
	r = named(RECORD_QUEUE_CREATE, "jobs");
	r.u = 10;
	jobs = append(log, r);
	r = about(RECORD_QUEUE_PUSH, "jobs", jobs);
	r.data.data = "a\nb\nc\n";
	r.data.len = 6;
	append(log, r);
	r = about(RECORD_QUEUE_POP, "jobs", jobs);
	r.u = 1, r.v = 4096;
	append(log, r);                                   /* a held */
	r = about(RECORD_QUEUE_ACK, "jobs", jobs);
	r.u = 1;
	append(log, r);                                   /* a delivered */
	r = about(RECORD_QUEUE_POP, "jobs", jobs);
	r.u = 2, r.v = 4096;
	append(log, r);                                   /* b held */
	r = about(RECORD_QUEUE_RETURN, "jobs", jobs);
	r.u = 2;
	append(log, r);                                   /* b back at the head */
	r = about(RECORD_QUEUE_POP, "jobs", jobs);
	r.u = 3, r.v = 4096;
	append(log, r);                                   /* b held again, kept */
	r = about(RECORD_QUEUE_CAPACITY, "jobs", jobs);
	r.u = 1;
	append(log, r);
	r = about(RECORD_QUEUE_SEAL, "jobs", jobs);
	r.u = 1;
	append(log, r);
	r = named(RECORD_QUEUE_CREATE, "gone");
	r.u = 5;
	append(log, about(RECORD_QUEUE_DELETE, "gone", append(log, r)));
	r = named(RECORD_PRODUCT, "apple");
	r.i = 1001, r.j = 10;
	append(log, r);
	r = named(RECORD_LOGIN, "alice");
	memset(r.hash, 0xab, sizeof(r.hash));
	append(log, r);
	r = named(RECORD_BUY, "alice");
	memset(r.hash, 0xab, sizeof(r.hash));
	r.i = 1001, r.j = 3;
	append(log, r);
	r = named(RECORD_BUY, "alice");
	memset(r.hash, 0xab, sizeof(r.hash));
	r.i = 1001, r.j = 300;
	append(log, r);                                   /* refused: no such stock */
	r = named(RECORD_BUY, "bob");
	memset(r.hash, 0xab, sizeof(r.hash));
	r.i = 1001, r.j = 1;
	append(log, r);                                   /* refused: not bob's session */
	r = named(RECORD_LOGIN, "bob");
	memset(r.hash, 0xcd, sizeof(r.hash));
	append(log, r);
	r = rec(RECORD_LOGOUT);
	memset(r.hash, 0xcd, sizeof(r.hash));
	append(log, r);
	return log;
}

static void test_replay_of_every_kind_gives_the_same_digest(void **state)
{
	struct log *log = every_kind();
	struct state *a, *b;
	char da[STATE_DIGEST_HEX + 1], db[STATE_DIGEST_HEX + 1];
	struct queue_stats qs;
	uint64_t id;
	int64_t v;

	(void)state;
	b = follower(log_memory_copy(log));
	a = follower(log);
	assert_int_equal(state_read_register(a, 0), 42);
	assert_int_equal(state_read_register(a, 1), 0);
	assert_int_equal(state_read_cell(a, 7, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(state_ncells(a), 300);
	assert_int_equal(state_queue_find(a, "jobs", 4, &id, &qs), 0);
	assert_int_equal(qs.depth, 1);  /* c waits; b is held */
	assert_int_equal(qs.held, 1);
	assert_true(qs.sealed);
	assert_int_equal(qs.capacity, 1);
	assert_int_equal(state_queue_find(a, "gone", 4, &id, NULL), -ENOENT);
	digest_of(a, da);
	digest_of(b, db);
	assert_string_equal(da, db);
	state_free(a);
	state_free(b);
}

static void test_a_snapshot_keeps_the_digest(void **state)
{
	struct state *a = follower(every_kind()), *b;
	char before[STATE_DIGEST_HEX + 1], after[STATE_DIGEST_HEX + 1],
		loaded[STATE_DIGEST_HEX + 1];

	(void)state;
	digest_of(a, before);
	assert_int_equal(state_compact(a), 0);
	assert_int_equal(log_memory_count(state_log(a)), 0);
	digest_of(a, after);
	assert_string_equal(before, after);
	b = follower(log_memory_copy(state_log(a)));
	digest_of(b, loaded);
	assert_string_equal(before, loaded);
	state_free(a);
	state_free(b);
}

/* Appends r to refused, and to same an empty batch with r's sequence: a
 * record that changes nothing but its session's newest sequence. */
static void append_pair(struct log *refused, struct log *same, struct record r)
{
	struct record nothing = { .kind = RECORD_BATCH, .session = r.session, .seq = r.seq };

	append(refused, r);
	append(same, nothing);
}

/* Each of these records breaks a bound or does not fit the state: applied
 * after every_kind, none may change anything. */
static void test_refused_records_change_nothing(void **state)
{
	static char big[20000];
	static const struct isa_insn far[] = {
		{ .op = ISA_WRITE, .reg = -1, .src = { false, 1 }, .cell = 1000000 },
	};
	unsigned char data[RECORD_INSN_BYTES];
	struct log *log = every_kind(), *same = log_memory_copy(log);
	struct state *st;
	char want[STATE_DIGEST_HEX + 1], got[STATE_DIGEST_HEX + 1];
	struct record r;

	(void)state;
	assert_non_null(same);
	memset(big, 'x', sizeof(big));
	r = named(RECORD_QUEUE_CREATE, "fresh");
	r.u = 0;
	append_pair(log, same, r);                                  /* capacity 0 */
	r = named(RECORD_QUEUE_CREATE, "bad/name");
	r.u = 5;
	append_pair(log, same, r);
	r = about(RECORD_QUEUE_PUSH, "jobs", jobs);
	r.data.data = big;
	r.data.len = sizeof(big);
	append_pair(log, same, r);                                  /* sealed, and too long */
	r = about(RECORD_QUEUE_HELD, "jobs", jobs);
	r.u = 9, r.v = SESSION, r.data.data = big, r.data.len = sizeof(big);
	append_pair(log, same, r);                                  /* an item past QUEUE_MAX_ITEM */
	r = about(RECORD_QUEUE_HELD, "jobs", jobs);
	r.u = 9, r.v = SESSION, r.data.data = "a\nb", r.data.len = 3;
	append_pair(log, same, r);                                  /* two items as one */
	r = about(RECORD_QUEUE_ACK, "jobs", jobs);
	r.u = 77;
	append_pair(log, same, r);                                  /* nothing held by 77 */
	r = about(RECORD_QUEUE_CAPACITY, "jobs", jobs + 1);
	r.u = 5;
	append_pair(log, same, r);                                  /* not the id of jobs */
	r = about(RECORD_QUEUE_CAPACITY, "jobs", 0);
	r.u = 5;
	append_pair(log, same, r);
	r = about(RECORD_QUEUE_CREATE, "fresh", 1000000);
	r.u = 5;
	append_pair(log, same, r);                                  /* a live one takes no id */
	r = named(RECORD_QUEUE_POP, "nosuch");
	r.u = 5, r.v = 4096;
	append_pair(log, same, r);
	append_pair(log, same, batch(far, 1, data));                /* no such cell */
	r = rec(RECORD_CELLS);
	r.u = 0;
	append_pair(log, same, r);
	r = rec(RECORD_CELLS);
	r.u = 5;
	append_pair(log, same, r);                                  /* cell 7 holds a value */
	r = named(RECORD_PRODUCT, "bad\tname");
	r.i = 2002, r.j = 1;
	append_pair(log, same, r);
	r = named(RECORD_BUY, "alice");
	memset(r.hash, 0x11, sizeof(r.hash));
	r.i = 1001, r.j = 1;
	append_pair(log, same, r);                                  /* not logged in */
	r = rec(RECORD_SESSION_END);
	r.v = 424242;
	append_pair(log, same, r);                                  /* no such session */
	r = about(RECORD_QUEUE_SEAL, "jobs", jobs);
	r.u = 7;
	append_pair(log, same, r);

	st = follower(same);
	digest_of(st, want);
	state_free(st);
	st = follower(log);
	digest_of(st, got);
	assert_string_equal(got, want);
	state_free(st);
}

/* A record for a queue that was deleted, carrying its id, is refused once
 * another queue has its name: it changes nothing, in particular not the
 * new queue. */
static void test_a_recreated_queue_refuses_the_old_ones_records(void **state)
{
	struct log *log = every_kind(), *same;
	struct state *st;
	char want[STATE_DIGEST_HEX + 1], got[STATE_DIGEST_HEX + 1];
	struct queue_stats qs;
	struct record r;
	uint64_t old, new, id;

	(void)state;
	r = named(RECORD_QUEUE_CREATE, "q");
	r.u = 5;
	old = append(log, r);
	r = about(RECORD_QUEUE_PUSH, "q", old);
	r.data.data = "old\n", r.data.len = 4;
	append(log, r);
	append(log, about(RECORD_QUEUE_DELETE, "q", old));
	r = named(RECORD_QUEUE_CREATE, "q");
	r.u = 5;
	new = append(log, r);
	r = about(RECORD_QUEUE_PUSH, "q", new);
	r.data.data = "new1\nnew2\n", r.data.len = 10;
	append(log, r);
	r = about(RECORD_QUEUE_POP, "q", new);
	r.u = 1, r.v = 4096;
	append(log, r);                                   /* new1 held by reader 1 */
	same = log_memory_copy(log);
	assert_non_null(same);

	r = about(RECORD_QUEUE_PUSH, "q", old);
	r.data.data = "x", r.data.len = 1;
	append_pair(log, same, r);
	r = about(RECORD_QUEUE_POP, "q", old);
	r.u = 2, r.v = 4096;
	append_pair(log, same, r);
	r = about(RECORD_QUEUE_ACK, "q", old);
	r.u = 1;
	append_pair(log, same, r);
	r = about(RECORD_QUEUE_RETURN, "q", old);
	r.u = 1;
	append_pair(log, same, r);
	r = about(RECORD_QUEUE_SEAL, "q", old);
	r.u = 1;
	append_pair(log, same, r);
	r = about(RECORD_QUEUE_CAPACITY, "q", old);
	r.u = 1;
	append_pair(log, same, r);
	r = about(RECORD_QUEUE_HELD, "q", old);
	r.u = 3, r.v = SESSION, r.data.data = "h", r.data.len = 1;
	append_pair(log, same, r);
	append_pair(log, same, about(RECORD_QUEUE_DELETE, "q", old));

	st = follower(same);
	digest_of(st, want);
	state_free(st);
	st = follower(log);
	digest_of(st, got);
	assert_string_equal(got, want);
	assert_int_equal(state_queue_find(st, "q", 1, &id, &qs), 0);
	assert_int_equal(id, new);
	assert_int_equal(qs.depth, 1);
	assert_int_equal(qs.held, 1);
	assert_int_equal(qs.capacity, 5);
	assert_false(qs.sealed);
	state_free(st);
}

/* A state loaded from a snapshot has the queues' ids, so records made
 * before the snapshot was taken, carrying them, still apply, and a queue
 * created after it gets the same id in both. */
static void test_a_snapshot_keeps_queue_ids(void **state)
{
	struct state *a = follower(every_kind()), *b;
	char da[STATE_DIGEST_HEX + 1], db[STATE_DIGEST_HEX + 1];
	struct queue_stats qs;
	struct record r[4];
	uint64_t id, ida, idb;

	(void)state;
	assert_int_equal(state_compact(a), 0);
	b = follower(log_memory_copy(state_log(a)));
	assert_int_equal(state_queue_find(b, "jobs", 4, &id, NULL), 0);
	assert_int_equal(id, jobs);
	r[0] = about(RECORD_QUEUE_SEAL, "jobs", jobs);
	r[0].u = 0;
	r[1] = about(RECORD_QUEUE_CAPACITY, "jobs", jobs);
	r[1].u = 5;
	r[2] = about(RECORD_QUEUE_PUSH, "jobs", jobs);
	r[2].data.data = "d\ne\n", r[2].data.len = 4;
	r[3] = named(RECORD_QUEUE_CREATE, "later");
	r[3].u = 3;
	for (size_t k = 0; k < 4; k++) {
		append(state_log(a), r[k]);
		append(state_log(b), r[k]);
	}
	assert_int_equal(state_queue_find(b, "jobs", 4, &id, &qs), 0);
	assert_int_equal(qs.depth, 3);
	assert_false(qs.sealed);
	assert_int_equal(state_queue_find(a, "later", 5, &ida, NULL), 0);
	assert_int_equal(state_queue_find(b, "later", 5, &idb, NULL), 0);
	assert_int_equal(ida, idb);
	digest_of(a, da);
	digest_of(b, db);
	assert_string_equal(da, db);
	state_free(a);
	state_free(b);
}

static void test_fence_and_repeats(void **state)
{
	static const struct isa_insn add[] = { { .op = ISA_ADD, .reg = 2, .src = { false, 1 } } };
	unsigned char data[RECORD_INSN_BYTES];
	struct log *log = every_kind();
	uint64_t skipped = rec(RECORD_BATCH).seq;        /* a sequence not yet seen */
	struct state *st;
	struct record r;

	(void)state;
	r = batch(add, 1, data);
	append(log, r);                                  /* C = 1 */
	append(log, r);                                  /* the same seq: a repeat */
	r.session = 555;                                 /* never opened */
	append(log, r);
	r = batch(add, 1, data);
	r.seq = skipped;                                 /* late, but within the window */
	append(log, r);                                  /* C = 2 */
	r = rec(RECORD_SESSION_END);
	r.v = SESSION;
	append(log, r);                                  /* the session ends itself */
	r = batch(add, 1, data);
	append(log, r);                                  /* fenced off */
	st = follower(log);
	assert_int_equal(state_read_register(st, 2), 2);
	state_free(st);
}

static void test_an_ended_session_gives_back_what_it_held(void **state)
{
	struct log *log = every_kind();
	struct state *st;
	struct queue_stats qs;
	struct record r;
	char item[QUEUE_MAX_ITEM + 1];
	size_t len;
	uint64_t id, ticket;

	(void)state;
	r = rec(RECORD_SESSION_END);
	r.v = SESSION;
	append(log, r);
	st = follower(log);
	assert_int_equal(state_queue_find(st, "jobs", 4, &id, &qs), 0);
	assert_int_equal(qs.held, 0);
	assert_int_equal(qs.depth, 2);
	/* b comes first again: it was taken before c */
	assert_int_equal(state_begin(st, 2000, 300, item, sizeof(item)), 0);
	assert_int_equal(state_queue_pop(st, id, 4096, 0, item, &len, &ticket), 0);
	assert_int_equal(len, 1);
	assert_int_equal(item[0], 'b');
	state_free(st);
}

/* r as version 1 wrote it: without the cut bytes at offset at. */
static void append_v1(struct log *log, struct record r, size_t at, size_t cut)
{
	struct text t = TEXT_INIT;
	uint64_t position;

	assert_int_equal(record_encode(&r, &t), 0);
	memmove(t.buf + at, t.buf + at + cut, t.len - at - cut);
	t.buf[0] = 1;
	assert_int_equal(log_append(log, t.buf, t.len - cut, &position), 0);
	text_free(&t);
}

static struct record queue_attr(const char *name, uint64_t id, unsigned what, uint32_t mode,
				uint32_t uid, uint32_t gid)
{
	struct record r = about(RECORD_QUEUE_SETATTR, name, id);

	r.v = what, r.mode = mode, r.uid = uid, r.gid = gid;
	return r;
}

/* A history of owners and modes: a queue of nobody's, sealed by chmod,
 * given to 7:8; a queue made without a write bit; a file given to 1:2; an
 * old queue of version 1; and the refusals between them. */
static struct log *owners(uint64_t *mine, uint64_t *file)
{
	struct log *log = session_log();
	struct record r;

	r = named(RECORD_QUEUE_CREATE, "mine");
	r.u = 10, r.mode = 0640, r.uid = 65534, r.gid = 100;
	*mine = append(log, r);
	append(log, queue_attr("mine", *mine, QUEUES_SET_MODE, 0400, 0, 0));
	append(log, queue_attr("mine", *mine, QUEUES_SET_OWNER, 0, 7, 8));
	append(log, queue_attr("mine", *mine, 4, 0, 9, 9));          /* refused: what */
	append(log, queue_attr("mine", *mine, QUEUES_SET_MODE | QUEUES_SET_OWNER, 010000, 9,
			       9));                                      /* refused: mode */
	append(log, queue_attr("mine", *mine + 1, QUEUES_SET_OWNER, 0, 9, 9)); /* refused: id */
	r = named(RECORD_QUEUE_CREATE, "ro");
	r.u = 10, r.mode = 0444, r.uid = 5, r.gid = 5;
	append(log, r);
	r = named(RECORD_QUEUE_CREATE, "bad");
	r.u = 10, r.mode = 0100644;
	append(log, r);                                              /* refused: mode */
	r = named(RECORD_FILE_CREATE, "f");
	r.u = FILES_ROOT, r.v = FILES_FILE, r.mode = 0600, r.uid = 65534, r.gid = 65534;
	*file = append(log, r);
	r = rec(RECORD_FILE_SETATTR);
	r.queue = *file, r.v = FILES_SET_OWNER, r.uid = 1, r.gid = 2;
	append(log, r);
	r.v = FILES_SET_OWNER | FILES_SET_MODE, r.mode = 010000, r.uid = 3;
	append(log, r);                                              /* refused: mode */
	r.v = 8;
	append(log, r);                                              /* refused: what */
	/* version 1: n u, then (version 2) o m, then q */
	r = named(RECORD_QUEUE_CREATE, "old");
	r.u = 10, r.mode = 0600, r.uid = 1, r.gid = 1;
	append_v1(log, r, RECORD_HEADER_BYTES + 4 + 3 + 8, 8 + 4);
	return log;
}

static void expect_owners(struct state *st, uint64_t mine, uint64_t file)
{
	struct queue_stats qs;
	struct files_attr a;
	uint64_t id;

	assert_int_equal(state_queue_find(st, "mine", 4, &id, &qs), 0);
	assert_int_equal(id, mine);
	assert_true(qs.sealed);
	assert_int_equal(qs.mode, 0600); /* 0400 and the write bit it had */
	assert_int_equal(qs.uid, 7);
	assert_int_equal(qs.gid, 8);
	assert_int_equal(state_queue_find(st, "ro", 2, &id, &qs), 0);
	assert_false(qs.sealed);
	assert_int_equal(qs.mode, 0644);
	assert_int_equal(qs.uid, 5);
	assert_int_equal(state_queue_find(st, "bad", 3, &id, &qs), -ENOENT);
	assert_int_equal(state_queue_find(st, "old", 3, &id, &qs), 0);
	assert_int_equal(qs.mode, RECORD_QUEUE_MODE_V1);
	assert_int_equal(qs.uid, QUEUE_OWNER_DAEMON);
	assert_int_equal(qs.gid, QUEUE_OWNER_DAEMON);
	assert_int_equal(state_file_lookup(st, FILES_ROOT, "f", 1, &id, &a), 0);
	assert_int_equal(id, file);
	assert_int_equal(a.mode, 0600);
	assert_int_equal(a.uid, 1);
	assert_int_equal(a.gid, 2);
}

static void test_owners_survive_a_replay_and_a_snapshot(void **state)
{
	char da[STATE_DIGEST_HEX + 1], db[STATE_DIGEST_HEX + 1], dc[STATE_DIGEST_HEX + 1];
	struct state *a, *b, *c;
	uint64_t mine, file;
	struct log *log;

	(void)state;
	log = owners(&mine, &file);
	c = follower(log_memory_copy(log));
	a = follower(log);
	expect_owners(a, mine, file);
	expect_owners(c, mine, file);
	assert_int_equal(state_compact(a), 0);
	b = follower(log_memory_copy(state_log(a)));
	expect_owners(b, mine, file);
	digest_of(a, da);
	digest_of(b, db);
	digest_of(c, dc);
	assert_string_equal(da, db);
	assert_string_equal(da, dc);
	state_free(a);
	state_free(b);
	state_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_of_every_kind_gives_the_same_digest),
		cmocka_unit_test(test_a_snapshot_keeps_the_digest),
		cmocka_unit_test(test_refused_records_change_nothing),
		cmocka_unit_test(test_a_recreated_queue_refuses_the_old_ones_records),
		cmocka_unit_test(test_a_snapshot_keeps_queue_ids),
		cmocka_unit_test(test_fence_and_repeats),
		cmocka_unit_test(test_an_ended_session_gives_back_what_it_held),
		cmocka_unit_test(test_owners_survive_a_replay_and_a_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
