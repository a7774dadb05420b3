/* test_state_shared.c - unit tests of the funnel over a log shared by
 * several hosts, as the etcd log is: an append only queues the record, a
 * thread of the log's own delivers it later (maybe twice: a retried put),
 * and a proposer may give up waiting before its record lands.  The fake
 * log here does just that, in memory.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "record.h"
#include "reply.h"
#include "state.h"
#include "text.h"

#define QUEUED_MAX 64

struct shared_log {
	struct log log;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct text queued[QUEUED_MAX]; /* under lock: waiting for delivery */
	size_t head, count;             /* under lock */
	uint64_t appended, delivered;   /* under lock: tickets */
	uint64_t position;              /* delivery thread only */
	bool stopping;                  /* under lock */
	pthread_t thread;
	log_deliver_fn deliver;
	void *arg;
	unsigned delay_ms;              /* before each delivery */
	unsigned await_ms;              /* a proposer gives up after this */
	bool twice;                     /* every record is delivered twice */
	int catch_up_err;
	unsigned catch_ups;
	unsigned rejoin_failures;       /* the first rejoins fail */
	unsigned rejoins;               /* under lock: calls */
	uint64_t rejoined_session;      /* under lock: the session the farewell ends */
};

static struct shared_log *of(struct log *log)
{
	return (struct shared_log *)log;
}

static void *deliver_loop(void *arg)
{
	struct shared_log *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct text rec;

		while (!s->stopping && !s->count)
			pthread_cond_wait(&s->changed, &s->lock);
		if (!s->count)
			break;
		rec = s->queued[s->head];
		s->head = (s->head + 1) % QUEUED_MAX;
		s->count--;
		pthread_mutex_unlock(&s->lock);
		usleep(s->delay_ms * 1000);
		s->deliver(s->arg, ++s->position, rec.buf, rec.len);
		if (s->twice)
			s->deliver(s->arg, ++s->position, rec.buf, rec.len);
		text_free(&rec);
		pthread_mutex_lock(&s->lock);
		s->delivered++;
		pthread_cond_broadcast(&s->changed);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int shared_follow(struct log *log, log_load_fn load, log_deliver_fn deliver, void *arg)
{
	struct shared_log *s = of(log);

	(void)load;
	s->deliver = deliver;
	s->arg = arg;
	return pthread_create(&s->thread, NULL, deliver_loop, s) ? -EAGAIN : 0;
}

/* Queues a record as if any host had put it; an append stamps it (log.h). */
static uint64_t queue_record(struct shared_log *s, const void *rec, size_t len, bool stamp)
{
	struct text copy = TEXT_INIT;
	uint64_t ticket;

	text_append(&copy, rec, len);
	pthread_mutex_lock(&s->lock);
	if (stamp)
		log_stamp(&s->log, copy.buf, copy.len);
	assert_true(s->count < QUEUED_MAX);
	s->queued[(s->head + s->count++) % QUEUED_MAX] = copy;
	ticket = ++s->appended;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	return ticket;
}

static int shared_append(struct log *log, const void *rec, size_t len, uint64_t *ticket)
{
	*ticket = queue_record(of(log), rec, len, true);
	return 0;
}

static int shared_await(struct log *log, uint64_t ticket, uint64_t *position)
{
	struct shared_log *s = of(log);
	struct timespec until;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)s->await_ms * 1000000;
	until.tv_sec += until.tv_nsec / 1000000000;
	until.tv_nsec %= 1000000000;
	pthread_mutex_lock(&s->lock);
	while (s->delivered < ticket && !ret)
		if (pthread_cond_timedwait(&s->changed, &s->lock, &until) == ETIMEDOUT)
			ret = -ETIMEDOUT;
	pthread_mutex_unlock(&s->lock);
	*position = ticket;
	return ret;
}

static int shared_catch_up(struct log *log)
{
	of(log)->catch_ups++;
	return of(log)->catch_up_err;
}

static int shared_sync(struct log *log, uint64_t position)
{
	(void)log, (void)position;
	return 0;
}

static bool shared_wants_compaction(struct log *log)
{
	(void)log;
	return false;
}

static int shared_compact(struct log *log, log_save_fn save, void *arg)
{
	(void)log, (void)save, (void)arg;
	return -ENOTSUP;
}

static int shared_format_stats(struct log *log, char *buf, size_t size)
{
	(void)log;
	return snprintf(buf, size, "log shared\n");
}

static int shared_rejoin(struct log *log, const void *farewell, size_t len)
{
	struct shared_log *s = of(log);
	struct record r;
	int ret = 0;

	assert_int_equal(record_decode(farewell, len, &r), 0);
	assert_int_equal(r.kind, RECORD_SESSION_END);
	pthread_mutex_lock(&s->lock);
	if (s->rejoins++ < s->rejoin_failures)
		ret = -ETIMEDOUT;
	else
		s->rejoined_session = r.v;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* Waits until everything queued is delivered, then stops the thread. */
static void shared_close(struct log *log)
{
	struct shared_log *s = of(log);

	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	if (s->deliver)
		pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->changed);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct log_ops shared_ops = {
	.follow = shared_follow,
	.append = shared_append,
	.await = shared_await,
	.catch_up = shared_catch_up,
	.sync = shared_sync,
	.wants_compaction = shared_wants_compaction,
	.compact = shared_compact,
	.format_stats = shared_format_stats,
	.rejoin = shared_rejoin,
	.close = shared_close,
	.shared = true,
};

static struct state *shared_state(struct shared_log **out, unsigned delay_ms, unsigned await_ms)
{
	struct shared_log *s = calloc(1, sizeof(*s));
	struct state *st = state_new(NULL);
	char msg[160];

	assert_non_null(s);
	assert_non_null(st);
	s->log.ops = &shared_ops;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->changed, NULL);
	s->delay_ms = delay_ms;
	s->await_ms = await_ms;
	assert_int_equal(state_attach_log(st, &s->log, msg, sizeof(msg)), 0);
	assert_int_equal(state_begin(st, 1000, 16, msg, sizeof(msg)), 0);
	*out = s;
	return st;
}

/* A record of another host's session: its own batch. */
static void remote_batch(struct shared_log *s, uint64_t session, uint64_t seq, const char *text)
{
	struct isa_insn insns[4];
	unsigned char data[4 * RECORD_INSN_BYTES];
	struct record r = { .kind = RECORD_BATCH, .session = session, .seq = seq };
	struct text encoded = TEXT_INIT;
	struct isa_error err;
	size_t count;

	assert_int_equal(isa_parse_batch(text, strlen(text), insns, 4, &count, &err), 0);
	r.data.data = data;
	r.data.len = record_put_insns(insns, count, data);
	assert_int_equal(record_encode(&r, &encoded), 0);
	queue_record(s, encoded.buf, encoded.len, false);
	text_free(&encoded);
}

static void remote_open(struct shared_log *s, uint64_t session)
{
	struct record r = { .kind = RECORD_SESSION_OPEN, .session = session, .seq = 1,
			    .u = session };
	struct text encoded = TEXT_INIT;

	assert_int_equal(record_encode(&r, &encoded), 0);
	queue_record(s, encoded.buf, encoded.len, false);
	text_free(&encoded);
}

/* Waits (up to 2 s) until register reg holds want. */
static void wait_for_register(struct state *st, int reg, int64_t want)
{
	for (int i = 0; i < 200 && state_read_register(st, reg) != want; i++)
		usleep(10000);
	assert_int_equal(state_read_register(st, reg), want);
}

static void test_outcome_comes_from_the_delivery_thread(void **unused)
{
	struct shared_log *s;
	struct state *st = shared_state(&s, 1, 2000);
	struct reply *batch = NULL;
	char *reply = NULL;
	size_t len;

	(void)unused;
	assert_int_equal(state_execute(st, "ADD A 5\nMUL A 3\n", 16, 1, &batch, NULL), 0);
	assert_int_equal(reply_text(batch, &reply, &len), 0);
	reply_free(batch);
	assert_string_equal(reply, "ok ADD A 5 -> A=5\nok MUL A 3 -> A=15\n");
	assert_int_equal(state_read_register(st, 0), 15);
	free(reply);
	state_free(st);
}

static void test_a_refusal_comes_back_too(void **unused)
{
	struct shared_log *s;
	struct state *st = shared_state(&s, 0, 2000);
	struct isa_error err;

	(void)unused;
	assert_int_equal(state_execute(st, "SET A 4\nDIV A 0\n", 16, 1, NULL, &err), -EDOM);
	assert_int_equal(err.line, 2);
	assert_int_equal(state_read_register(st, 0), 0);
	state_free(st);
}

static void test_a_record_delivered_twice_is_applied_once(void **unused)
{
	struct shared_log *s;
	struct state *st = shared_state(&s, 0, 2000);

	(void)unused;
	s->twice = true;
	for (int i = 0; i < 10; i++)
		assert_int_equal(state_execute(st, "ADD A 1", 7, 1, NULL, NULL), 0);
	assert_int_equal(state_read_register(st, 0), 10);
	state_free(st);
}

static void *add_ten(void *arg)
{
	for (int i = 0; i < 10; i++)
		assert_int_equal(state_execute(arg, "ADD A 1", 7, 1, NULL, NULL), 0);
	return NULL;
}

static void test_concurrent_proposers_each_get_their_own_outcome(void **unused)
{
	struct shared_log *s;
	struct state *st = shared_state(&s, 1, 5000);
	pthread_t t[4];

	(void)unused;
	for (int k = 0; k < 4; k++)
		assert_int_equal(pthread_create(&t[k], NULL, add_ten, st), 0);
	for (int k = 0; k < 4; k++)
		pthread_join(t[k], NULL);
	assert_int_equal(state_read_register(st, 0), 40);
	state_free(st);
}

/* A proposer that gives up gets ETIMEDOUT; its record still lands later,
 * and its apply does not write into the proposer's finished call. */
static void test_a_proposer_that_gives_up_gets_etimedout(void **unused)
{
	struct shared_log *s;
	struct state *st = shared_state(&s, 0, 2000);
	struct reply *batch = NULL;
	char *reply = NULL;
	size_t len;

	(void)unused;
	s->delay_ms = 200;
	s->await_ms = 20;
	assert_int_equal(state_execute(st, "ADD A 1", 7, 1, &batch, NULL), -ETIMEDOUT);
	assert_int_equal(reply_text(batch, &reply, &len), 0);
	reply_free(batch);
	assert_non_null(strstr(reply, "cannot save the change"));
	free(reply);
	wait_for_register(st, 0, 1);
	state_free(st);
}

/* Another host's session is alive: our start does not end it, so its
 * records still apply. */
static void test_other_hosts_sessions_stay_open(void **unused)
{
	struct shared_log *s;
	struct state *st;

	(void)unused;
	st = shared_state(&s, 0, 2000);
	remote_open(s, 77);
	remote_batch(s, 77, 2, "SET B 7");
	wait_for_register(st, 1, 7);
	state_free(st);
}

/* A session that was never opened (or was ended) changes nothing. */
static void test_a_record_of_an_unknown_session_is_fenced(void **unused)
{
	struct shared_log *s;
	struct state *st = shared_state(&s, 0, 2000);

	(void)unused;
	remote_batch(s, 88, 1, "SET C 9");
	remote_open(s, 77);
	remote_batch(s, 77, 2, "SET D 4");
	wait_for_register(st, 3, 4);
	assert_int_equal(state_read_register(st, 2), 0);
	state_free(st);
}

/* The cluster ends our session (what a deleted member key delivers). */
static void end_our_session(struct shared_log *s, uint64_t session)
{
	void *farewell;
	size_t len;

	assert_int_equal(state_farewell(session, &farewell, &len), 0);
	queue_record(s, farewell, len, false);
	free(farewell);
}

/* Waits (up to 5 s) for a rejoin that succeeded; returns its session. */
static uint64_t wait_rejoined(struct shared_log *s)
{
	uint64_t session = 0;

	for (int i = 0; i < 500 && !session; i++) {
		pthread_mutex_lock(&s->lock);
		session = s->rejoined_session;
		pthread_mutex_unlock(&s->lock);
		if (!session)
			usleep(10000);
	}
	assert_true(session != 0);
	return session;
}

/* A session the cluster ended comes back as a new one: writes work again,
 * under the new session, and a rejoin that fails is tried again. */
static void test_an_ended_session_begins_again(void **unused)
{
	struct shared_log *s;
	struct state *st = shared_state(&s, 0, 2000);
	uint64_t session;

	(void)unused;
	s->rejoin_failures = 1;
	end_our_session(s, 1000);
	session = wait_rejoined(s);
	assert_true(session != 1000);
	assert_int_equal(s->rejoins, 2);
	assert_int_equal(state_execute(st, "SET A 5", 7, 1, NULL, NULL), 0);
	assert_int_equal(state_read_register(st, 0), 5);
	state_free(st);
}

static void test_catch_up_asks_the_log(void **unused)
{
	struct shared_log *s;
	struct state *st = shared_state(&s, 0, 2000);

	(void)unused;
	assert_int_equal(state_catch_up(st), 0);
	s->catch_up_err = -ETIMEDOUT;
	assert_int_equal(state_catch_up(st), -ETIMEDOUT);
	assert_int_equal(s->catch_ups, 2);
	state_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcome_comes_from_the_delivery_thread),
		cmocka_unit_test(test_a_refusal_comes_back_too),
		cmocka_unit_test(test_a_record_delivered_twice_is_applied_once),
		cmocka_unit_test(test_concurrent_proposers_each_get_their_own_outcome),
		cmocka_unit_test(test_a_proposer_that_gives_up_gets_etimedout),
		cmocka_unit_test(test_other_hosts_sessions_stay_open),
		cmocka_unit_test(test_a_record_of_an_unknown_session_is_fenced),
		cmocka_unit_test(test_an_ended_session_begins_again),
		cmocka_unit_test(test_catch_up_asks_the_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
