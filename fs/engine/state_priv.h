/* state_priv.h - the inside of struct state, shared by the files of the
 * state module (state.c, apply.c, state_queue.c, state_shop.c,
 * state_tickets.c, state_files.c); nothing
 * else includes it.
 */
#ifndef RWFS_STATE_PRIV_H
#define RWFS_STATE_PRIV_H

#include <pthread.h>
#include <time.h>

#include "files.h"
#include "queues.h"
#include "record.h"
#include "rwlock.h"
#include "shop.h"
#include "shop_users.h"
#include "state.h"
#include "tickets.h"

#define STATE_MAX_SESSIONS 1024
#define STATE_SEQ_WINDOW 64   /* a record may arrive this far behind its session's newest */
#define STATE_CHANGED_MAX 8   /* queues one apply reports; more: all of them */
#define STATE_MAX_UNSETTLED 64 /* held items whose settling waits for the log */

/* A session: one run of a daemon on one host.  Its records carry its id
 * and a sequence; a sequence seen before is a repeat (a proposal retried
 * after a timeout) and is applied once. */
struct session {
	uint64_t id;
	uint64_t newest;  /* the highest sequence applied */
	uint64_t seen;    /* bit k: newest - k was applied */
};

/* What one apply tells its proposer.  The proposer fills the inputs
 * (each, item); apply fills the rest. */
struct outcome {
	int err;                      /* 0, or the refusal (-errno): nothing changed */
	bool eof;                     /* a pop of a sealed, empty queue */
	/* batch */
	isa_outcome_fn each;          /* may be NULL: called per instruction that ran */
	void *each_arg;
	struct isa_error isa;         /* the failing instruction's line and message */
	/* queues */
	uint64_t queue_id;
	char *item;                   /* pop: room for QUEUE_MAX_ITEM bytes, or NULL */
	size_t item_len;
	/* shop */
	struct shop_receipt receipt;
	/* tickets */
	uint64_t ticket;              /* a lock: its number */
	bool queued;                  /* a lock: it waits in the queue */
	/* files */
	uint64_t file_id;             /* a create: the new node's id */
	uint64_t file_offset;         /* an append: where its bytes went */
};

/* An acknowledgement or return of a held item the log could not take. */
struct unsettled {
	enum record_kind kind; /* RECORD_QUEUE_ACK or RECORD_QUEUE_RETURN */
	uint64_t id, ticket;
};

/* The queues one apply changed, and the tickets that left a queue, for
 * the observers. */
struct changes {
	uint64_t ids[STATE_CHANGED_MAX];
	unsigned count;
	bool all;
	struct state_ticket_event tickets[STATE_CHANGED_MAX];
	unsigned ntickets;
	bool all_tickets;  /* more than STATE_CHANGED_MAX: every waiter looks again */
};

/* A proposal waiting for its record to be applied. */
struct pending {
	struct pending *next;
	uint64_t session, seq;
	struct outcome *out;
	bool claimed;  /* deliver is applying it: out must stay until done */
	bool done;
};

struct state {
	struct rwlock lock;
	struct isa_machine machine;        /* under lock */
	struct queues *queues;             /* under lock */
	struct shop *shop;                 /* under lock */
	struct tickets *tickets;           /* under lock */
	struct files *files;               /* under lock; pins under the exclusive lock */
	struct changes *applying;          /* under lock (exclusive): what apply collects into */
	struct session sessions[STATE_MAX_SESSIONS]; /* under lock; the first nsessions */
	size_t nsessions;                  /* under lock */
	/* under lock: the position of the record being or last applied; 0
	 * before any and while a snapshot loads (state.c: deliver, load) */
	uint64_t applied;
	uint64_t insn_count[ISA_OP_COUNT]; /* under lock (exclusive) */
	struct isa_insn batch_insns[ISA_MAX_BATCH_LINES];      /* under lock (exclusive): */
	struct isa_cell_undo batch_undo[ISA_MAX_BATCH_LINES]; /* apply's scratch */

	struct shop_users *users;          /* configuration: set before serving */
	size_t queue_capacity;             /* configuration: of new queues */

	struct log *log;                   /* orders and keeps the records */
	uint64_t session;                  /* this process's; 0 until state_begin;
					    * atomic: a new one may begin any time */
	uint64_t next_reader;              /* atomic: tickets of held queue items */
	pthread_mutex_t unsettled_lock;
	struct unsettled unsettled[STATE_MAX_UNSETTLED]; /* under unsettled_lock */
	size_t nunsettled;                 /* written under unsettled_lock, read atomically */

	pthread_mutex_t propose_lock;      /* a shared log's proposals: see begin_again */
	bool compacting;                   /* atomic: a thread runs compact_if_due's compaction */
	uint64_t loads;                    /* under lock: snapshots loaded */
	pthread_mutex_t digest_lock;       /* the last digest made, before lock */
	bool digest_valid;                 /* under digest_lock */
	uint64_t digest_at, digest_loads;  /* under digest_lock: applied and loads it is of */
	char digest_hex[STATE_DIGEST_HEX + 1]; /* under digest_lock */
	uint64_t next_seq;                 /* under the log's lock: only stamp uses it */
	pthread_mutex_t pending_lock;
	pthread_cond_t pending_done;
	struct pending *pending;           /* under pending_lock */

	/* With a shared log, the observers run in the notifier thread: see
	 * state.c, hand_off. */
	pthread_mutex_t notify_lock;
	pthread_cond_t notify_cond;
	pthread_t notifier;
	bool notifier_started;
	bool notify_stop;                  /* under notify_lock */
	bool notify_busy;                  /* under notify_lock: observers running */
	bool notify_has;                   /* under notify_lock */
	bool rejoin_due;                   /* under notify_lock: our session ended */
	struct changes notify_pending;     /* under notify_lock */

	state_observer_fn observer;
	void *observer_arg;
	state_ticket_observer_fn ticket_observer;
	void *ticket_observer_arg;

	uint64_t batches;                  /* atomic: parse errors count without the lock */
	uint64_t batch_errors;             /* atomic */
	uint64_t reads;                    /* atomic */
	uint64_t refused;                  /* atomic: records applied as refusals */
	uint64_t purchases;                /* atomic: buys answered ok */
	uint64_t purchases_refused;        /* atomic: buys of a session refused */
	struct timespec started;
	struct evlog *evlog;
};

/* Adds one to a counter that readers bump without the exclusive lock. */
static inline void state_bump(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* Proposes r (kind and fields set; the session, sequence and time are
 * filled in here) and waits until it is applied and as durable as the log
 * promises.  out (never NULL) receives the outcome.  Returns 0 when the
 * record was applied (look at out->err for a refusal), or the log's
 * -errno (-ENOSPC, -EIO...: not applied), -EINVAL (r out of bounds) or
 * -ENOMEM.  Call with no lock held. */
int state_submit(struct state *st, struct record *r, struct outcome *out);

/* apply.c: the ticket table's observer (tickets_observe, arg the state):
 * notes who left a queue in st->applying, for state_observe_tickets. */
void state_ticket_left(void *arg, const struct ticket_req *req, bool granted,
		       int64_t waited_ns);

/* apply.c: the one apply function.  Changes the state by r (decoded; its
 * session's fence and repeats checked) and fills out (may be NULL) and
 * changed.  Total and deterministic: any record, even from a damaged
 * journal or a fuzzer, either changes the state or is refused with
 * nothing changed.  Under the exclusive lock. */
void state_apply_record(struct state *st, const struct record *r, struct outcome *out,
			struct changes *changed);

/* apply.c: the whole state as a snapshot blob: records (each u32le
 * length, then the record) that rebuild it when applied to a new state.
 * Canonical: equal states give equal blobs.  Under the shared lock. */
int state_save_blob(struct state *st, struct text *blob);

/* apply.c: replaces the state by the one blob describes.  Returns 0 or
 * -EBADMSG (a record that cannot be decoded or is refused: msg says
 * which).  Under the exclusive lock. */
int state_load_blob(struct state *st, const void *blob, size_t len, char *msg, size_t size);

#endif
