/* state_tickets.c - the tickets of the state: each lock, unlock, close and
 * cancel is a record; apply decides (tickets.h).  See state.h.
 *
 * A close or an unlock of an owner that holds nothing makes no record:
 * every close of every rwfs file asks, and most have nothing to release.
 */
#include <errno.h>

#include "state_priv.h"

static uint64_t flags_of(const struct state_ticket *t)
{
	return (t->posix ? RECORD_TICKET_POSIX : 0) |
	       (t->exclusive ? RECORD_TICKET_EXCLUSIVE : 0);
}

static struct record record_of(enum record_kind kind, const struct state_ticket *t)
{
	return (struct record){
		.kind = kind,
		.pid = t->pid,
		.queue = t->file,
		.u = t->owner,
		.flags = flags_of(t),
		.i = (int64_t)(t->posix ? t->start : 0),
		.j = (int64_t)(t->posix ? t->end : UINT64_MAX),
	};
}

/* Proposes r and turns a refusal into the return value. */
static int propose(struct state *st, struct record *r, struct outcome *out)
{
	int ret = state_submit(st, r, out);

	return ret ? ret : out->err;
}

/* Whether this session's owner has a ticket of the kind on file. */
static bool owner_has(struct state *st, uint64_t file, bool posix, uint64_t owner)
{
	bool has;

	rwlock_read_lock(&st->lock);
	has = tickets_owner_has(st->tickets, file, posix ? TICKET_POSIX : TICKET_FLOCK,
				__atomic_load_n(&st->session, __ATOMIC_ACQUIRE), owner);
	rwlock_read_unlock(&st->lock);
	return has;
}

int state_ticket_lock(struct state *st, const struct state_ticket *t, bool wait,
		      uint64_t *ticket)
{
	struct record r = record_of(RECORD_TICKET_LOCK, t);
	struct outcome out = { .err = 0 };
	int ret;

	if (wait)
		r.flags |= RECORD_TICKET_WAIT;
	ret = propose(st, &r, &out);
	if (ret)
		return ret;
	*ticket = out.ticket;
	return out.queued ? 1 : 0;
}

int state_ticket_unlock(struct state *st, const struct state_ticket *t)
{
	struct record r = record_of(RECORD_TICKET_UNLOCK, t);
	struct outcome out = { .err = 0 };

	if (!owner_has(st, t->file, t->posix, t->owner))
		return 0;
	return propose(st, &r, &out);
}

int state_ticket_release(struct state *st, uint64_t file, bool posix, uint64_t owner,
			 uint32_t pid)
{
	struct state_ticket t = { .file = file, .posix = posix, .owner = owner, .pid = pid };
	struct record r = record_of(RECORD_TICKET_RELEASE, &t);
	struct outcome out = { .err = 0 };

	int ret;

	if (!owner_has(st, file, posix, owner))
		return 0;
	ret = propose(st, &r, &out);
	return ret ? ret : 1;
}

int state_ticket_cancel(struct state *st, uint64_t ticket)
{
	struct record r = { .kind = RECORD_TICKET_CANCEL, .ticket = ticket };
	struct outcome out = { .err = 0 };

	return propose(st, &r, &out);
}

bool state_ticket_waiting(struct state *st, uint64_t ticket)
{
	bool waiting;

	rwlock_read_lock(&st->lock);
	waiting = tickets_is_queued(st->tickets, ticket);
	rwlock_read_unlock(&st->lock);
	return waiting;
}

bool state_ticket_conflict(struct state *st, const struct state_ticket *t,
			   struct state_ticket *holder)
{
	struct ticket_req req = {
		.file = t->file,
		.kind = t->posix ? TICKET_POSIX : TICKET_FLOCK,
		.mode = t->exclusive ? TICKET_EXCLUSIVE : TICKET_SHARED,
		.session = __atomic_load_n(&st->session, __ATOMIC_ACQUIRE),
		.owner = t->owner,
		.start = t->posix ? t->start : 0,
		.end = t->posix ? t->end : UINT64_MAX,
	}, found;
	bool conflict;

	rwlock_read_lock(&st->lock);
	conflict = tickets_conflict(st->tickets, &req, &found);
	rwlock_read_unlock(&st->lock);
	if (conflict)
		*holder = (struct state_ticket){
			.file = found.file,
			.posix = found.kind == TICKET_POSIX,
			.exclusive = found.mode == TICKET_EXCLUSIVE,
			.owner = found.owner,
			.start = found.start,
			.end = found.end,
			.pid = found.pid,
		};
	return conflict;
}
