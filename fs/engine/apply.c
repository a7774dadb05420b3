/* apply.c - the one apply function, and the snapshot it rebuilds from.
 *
 * Everything that changes the state passes through state_apply_record:
 * live changes, the replay at start-up, a snapshot being loaded.  It reads
 * nothing but the record and the state (no clock, no random source, no
 * configuration), so every engine that applies the same records in the
 * same order ends in the same state.  It is total: every bound is checked
 * here, and a record that does not fit the state is refused, changing
 * nothing, whatever produced it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "state_priv.h"

/* A record's owner goes into the queues and the files as it is. */
_Static_assert(RECORD_OWNER_DAEMON == QUEUE_OWNER_DAEMON &&
	       RECORD_OWNER_DAEMON == FILES_OWNER_DAEMON, "one daemon owner");

/* --- sessions --------------------------------------------------------------- */

static struct session *find_session(struct state *st, uint64_t id)
{
	for (size_t i = 0; i < st->nsessions; i++)
		if (st->sessions[i].id == id)
			return &st->sessions[i];
	return NULL;
}

/* The fence and the repeat check of a proposer's record: 0 to apply it,
 * -ESTALE when its session is not open, 1 for a repeat (already applied:
 * nothing to do). */
static int admit(struct session *s, uint64_t seq)
{
	uint64_t behind;

	if (!s)
		return -ESTALE;
	if (seq > s->newest) {
		uint64_t ahead = seq - s->newest;

		s->seen = ahead >= 64 ? 0 : s->seen << ahead;
		s->seen |= 1;
		s->newest = seq;
		return 0;
	}
	behind = s->newest - seq;
	if (behind >= STATE_SEQ_WINDOW || (s->seen >> behind) & 1)
		return 1;
	s->seen |= (uint64_t)1 << behind;
	return 0;
}

static int open_session(struct state *st, uint64_t id, uint64_t newest)
{
	struct session *s;

	if (id == 0)
		return -EINVAL;
	if (find_session(st, id))
		return -EEXIST;
	if (st->nsessions == STATE_MAX_SESSIONS)
		return -ENOSPC;
	s = &st->sessions[st->nsessions++];
	s->id = id;
	s->newest = newest;
	s->seen = newest ? 1 : 0;
	return 0;
}

static int end_session(struct state *st, uint64_t id, int64_t time_ns,
		       struct changes *changed)
{
	struct session *s = find_session(st, id);

	if (!s)
		return -ENOENT;
	*s = st->sessions[--st->nsessions];
	if (queues_end_session(st->queues, id) > 0)
		changed->all = true;
	tickets_release_session(st->tickets, id, time_ns);
	return 0;
}

/* --- registers and cells ----------------------------------------------------- */

static int set_cells(struct state *st, uint64_t n)
{
	int64_t *cells;

	if (n == 0 || n > STATE_MAX_CELLS)
		return -EINVAL;
	for (size_t c = n; c < st->machine.ncells; c++)
		if (st->machine.cells[c])
			return -EBUSY;
	cells = realloc(st->machine.cells, n * sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	if (n > st->machine.ncells)
		memset(cells + st->machine.ncells, 0, (n - st->machine.ncells) * sizeof(*cells));
	st->machine.cells = cells;
	st->machine.ncells = n;
	return 0;
}

/* The decoded instructions and the undo go in the state's scratch (apply
 * runs under the exclusive lock): apply allocates nothing for a batch, so
 * no engine refuses one for lack of memory that another applies. */
static int apply_batch(struct state *st, const struct record *r, struct outcome *out)
{
	struct isa_undo undo; /* isa_execute fills both: zeroing them cost more than a short batch runs */
	struct isa_error err;
	size_t count;
	int ret = record_get_insns(r, st->batch_insns, ISA_MAX_BATCH_LINES, &count);

	if (ret) {
		if (out)
			out->isa = (struct isa_error){ 0 };
		return ret;
	}
	undo.cells = st->batch_undo;
	ret = isa_execute(&st->machine, st->batch_insns, count, &undo,
			  out ? out->each : NULL, out ? out->each_arg : NULL, &err);
	if (ret) {
		if (out)
			out->isa = err;
		return ret;
	}
	for (size_t k = 0; k < count; k++)
		st->insn_count[st->batch_insns[k].op]++;
	return 0;
}

/* --- queues ------------------------------------------------------------------ */

static void changed_queue(struct changes *changed, uint64_t id)
{
	if (changed->count < STATE_CHANGED_MAX)
		changed->ids[changed->count++] = id;
	else
		changed->all = true;
}

static int apply_pop(struct state *st, const struct record *r, struct outcome *out)
{
	const char *item;
	size_t len;
	int ret = queues_apply_pop(st->queues, r->queue, r->name.data, r->name.len, r->session,
				   r->u, r->v, &item, &len);

	if (ret == 1 && out)
		out->eof = true;
	if (ret == 0 && out && out->item) {
		memcpy(out->item, item, len);
		out->item_len = len;
	}
	return ret == 1 ? 0 : ret;
}

/* A record applied at a position creates its queue with that position as
 * its id, and must carry 0; only a snapshot's records, loaded at no
 * position (st->applied 0), carry the id their queue had.  The mode is
 * checked first, so that the owner and mode, set once the queue is made,
 * cannot be refused.  A queue is born unsealed: a mode without a write bit
 * gets the owner's (a queue sealed at birth could never be filled). */
static int apply_create(struct state *st, const struct record *r, uint64_t *id)
{
	uint32_t mode = r->mode & 0222 ? r->mode : r->mode | 0200;
	int ret;

	if ((st->applied && r->queue) || (r->mode & ~QUEUE_MODE_MASK))
		return -EINVAL;
	*id = st->applied ? st->applied : r->queue;
	ret = queues_apply_create(st->queues, *id, r->name.data, r->name.len, r->u);
	if (!ret)
		ret = queues_apply_attr(st->queues, *id, r->name.data, r->name.len,
					QUEUES_SET_MODE | QUEUES_SET_OWNER, mode, r->uid, r->gid);
	return ret;
}

static int apply_queue(struct state *st, const struct record *r, struct outcome *out,
		       struct changes *changed)
{
	struct queues *qs = st->queues;
	const char *name = r->name.data;
	size_t len = r->name.len;
	uint64_t id = r->queue;
	int ret;

	switch (r->kind) {
	case RECORD_QUEUE_CREATE:
		ret = apply_create(st, r, &id);
		break;
	case RECORD_QUEUE_DELETE:
		ret = queues_apply_delete(qs, id, name, len);
		break;
	case RECORD_QUEUE_PUSH:
		ret = queues_apply_push(qs, id, name, len, r->data.data, r->data.len);
		break;
	case RECORD_QUEUE_POP:
		ret = apply_pop(st, r, out);
		break;
	case RECORD_QUEUE_ACK:
		ret = queues_apply_ack(qs, id, name, len, r->session, r->u);
		break;
	case RECORD_QUEUE_RETURN:
		ret = queues_apply_return(qs, id, name, len, r->session, r->u);
		break;
	case RECORD_QUEUE_SEAL:
		ret = r->u > 1 ? -EINVAL : queues_apply_seal(qs, id, name, len, r->u == 1);
		break;
	case RECORD_QUEUE_CAPACITY:
		ret = queues_apply_capacity(qs, id, name, len, r->u);
		break;
	case RECORD_QUEUE_SETATTR:
		ret = r->v > UINT32_MAX ? -EINVAL
					: queues_apply_attr(qs, id, name, len, (unsigned)r->v,
							    r->mode, r->uid, r->gid);
		break;
	default: /* RECORD_QUEUE_HELD */
		ret = queues_apply_held(qs, id, name, len, r->v, r->u, r->data.data,
					r->data.len);
		break;
	}
	if (!ret) {
		changed_queue(changed, id);
		if (out)
			out->queue_id = id;
	}
	return ret;
}

/* --- the shop ------------------------------------------------------------------ */

static int apply_shop(struct state *st, const struct record *r, struct outcome *out)
{
	struct shop_receipt scratch;
	const char *user;

	switch (r->kind) {
	case RECORD_PRODUCT:
		return shop_apply_product(st->shop, r->i, r->j, r->name.data, r->name.len);
	case RECORD_LOGIN:
		return shop_apply_login(st->shop, r->name.data, r->name.len, r->hash);
	case RECORD_LOGOUT:
		return shop_apply_logout(st->shop, r->hash);
	default: /* RECORD_BUY: the user is there for the audit, and must match */
		user = shop_session_user(st->shop, r->hash);
		if (!user || strlen(user) != r->name.len || memcmp(user, r->name.data, r->name.len))
			return -EACCES;
		return shop_apply_buy(st->shop, r->hash, r->i, r->j,
				      out ? &out->receipt : &scratch);
	}
}

/* --- tickets ----------------------------------------------------------------- */

#define TICKET_FLAGS (RECORD_TICKET_POSIX | RECORD_TICKET_EXCLUSIVE | RECORD_TICKET_WAIT | \
		      RECORD_TICKET_GRANTED)

/* The request of a ticket record; a lock's number is its position. */
static struct ticket_req ticket_of(const struct state *st, const struct record *r)
{
	return (struct ticket_req){
		.id = r->kind == RECORD_TICKET_HELD ? r->ticket : st->applied,
		.file = r->queue,
		.kind = r->flags & RECORD_TICKET_POSIX ? TICKET_POSIX : TICKET_FLOCK,
		.mode = r->flags & RECORD_TICKET_EXCLUSIVE ? TICKET_EXCLUSIVE : TICKET_SHARED,
		.session = r->kind == RECORD_TICKET_HELD ? r->v : r->session,
		.owner = r->u,
		.pid = r->pid,
		.start = (uint64_t)r->i,
		.end = (uint64_t)r->j,
		.time_ns = r->time_ns,
	};
}

void state_ticket_left(void *arg, const struct ticket_req *req, bool granted, int64_t waited_ns)
{
	struct changes *c = ((struct state *)arg)->applying;

	if (!c)
		return;
	if (c->ntickets == STATE_CHANGED_MAX)
		c->all_tickets = true;
	else
		c->tickets[c->ntickets++] =
			(struct state_ticket_event){ req->id, granted, waited_ns };
}

static int apply_ticket(struct state *st, const struct record *r, struct outcome *out)
{
	struct ticket_req req = ticket_of(st, r);
	int ret;

	/* Only a snapshot's records are tickets as they stand. */
	if (r->flags & ~(uint64_t)TICKET_FLAGS || (r->kind == RECORD_TICKET_HELD) != !r->session)
		return -EINVAL;
	switch (r->kind) {
	case RECORD_TICKET_LOCK:
		ret = tickets_lock(st->tickets, &req, r->flags & RECORD_TICKET_WAIT);
		if (ret < 0)
			return ret;
		if (out) {
			out->ticket = req.id;
			out->queued = ret == 1;
		}
		return 0;
	case RECORD_TICKET_UNLOCK:
		return tickets_unlock(st->tickets, &req);
	case RECORD_TICKET_RELEASE:
		tickets_release_owner(st->tickets, req.file, req.kind, req.session, req.owner,
				      req.time_ns);
		return 0;
	case RECORD_TICKET_CANCEL:
		return tickets_cancel(st->tickets, r->ticket, r->time_ns);
	default: /* RECORD_TICKET_HELD */
		return tickets_restore(st->tickets, &req, r->flags & RECORD_TICKET_GRANTED);
	}
}

/* --- files ------------------------------------------------------------------- */

/* A live create's node takes the record's position as its id, and the
 * record must carry 0; a snapshot's carries the id its node had. */
static int apply_file_create(struct state *st, const struct record *r, struct outcome *out)
{
	uint64_t id = st->applied ? st->applied : r->queue;
	int ret;

	if ((st->applied && r->queue) || (r->v != FILES_FILE && r->v != FILES_DIR))
		return -EINVAL;
	ret = files_apply_create(st->files, id, r->u, r->name.data, r->name.len,
				 (enum files_type)r->v, r->mode, r->time_ns);
	if (!ret)
		ret = files_apply_owner(st->files, id, r->uid, r->gid, r->time_ns);
	if (!ret && out)
		out->file_id = id;
	return ret;
}

/* The owner goes last: what could refuse the record (the node, the mode)
 * is checked before anything changes. */
static int apply_file_setattr(struct files *f, const struct record *r)
{
	int ret;

	if (r->v > (FILES_SET_MODE | FILES_SET_MTIME | FILES_SET_OWNER))
		return -EINVAL;
	ret = files_apply_setattr(f, r->queue, (unsigned)r->v & ~FILES_SET_OWNER, r->mode, r->j,
				  r->time_ns);
	if (!ret && (r->v & FILES_SET_OWNER))
		ret = files_apply_owner(f, r->queue, r->uid, r->gid, r->time_ns);
	return ret;
}

static int apply_file(struct state *st, const struct record *r, struct outcome *out)
{
	struct files *f = st->files;
	uint64_t offset;
	int ret;

	switch (r->kind) {
	case RECORD_FILE_CREATE:
		return apply_file_create(st, r, out);
	case RECORD_FILE_WRITE:
		return files_apply_write(f, r->queue, r->u, r->data.data, r->data.len, r->time_ns);
	case RECORD_FILE_APPEND:
		ret = files_apply_append(f, r->queue, r->data.data, r->data.len, r->time_ns,
					 &offset);
		if (!ret && out)
			out->file_offset = offset;
		return ret;
	case RECORD_FILE_REPLACE:
		return files_apply_replace(f, r->queue, r->data.data, r->data.len, r->time_ns);
	case RECORD_FILE_TRUNCATE:
		return files_apply_truncate(f, r->queue, r->u, r->time_ns);
	case RECORD_FILE_RENAME:
		if (r->i < 0 || r->i > FILES_RENAME_NOREPLACE)
			return -EINVAL;
		return files_apply_rename(f, r->u, r->name.data, r->name.len, r->v,
					  r->target.data, r->target.len, (unsigned)r->i,
					  r->time_ns);
	case RECORD_FILE_UNLINK:
		return files_apply_unlink(f, r->u, r->name.data, r->name.len, r->time_ns);
	case RECORD_FILE_RMDIR:
		return files_apply_rmdir(f, r->u, r->name.data, r->name.len, r->time_ns);
	default: /* RECORD_FILE_SETATTR */
		return apply_file_setattr(f, r);
	}
}

/* --- the one apply ------------------------------------------------------------- */

static int apply_kind(struct state *st, const struct record *r, struct outcome *out,
		      struct changes *changed)
{
	switch (r->kind) {
	case RECORD_BATCH:
		return apply_batch(st, r, out);
	case RECORD_CELLS:
		return set_cells(st, r->u);
	case RECORD_SESSION_OPEN:
		/* A live record opens its own session; a snapshot's any. */
		if (r->session && r->u != r->session)
			return -EINVAL;
		return open_session(st, r->u, r->session ? 0 : r->v);
	case RECORD_SESSION_END:
		return end_session(st, r->v, r->time_ns, changed);
	case RECORD_PRODUCT:
	case RECORD_LOGIN:
	case RECORD_LOGOUT:
	case RECORD_BUY:
		return apply_shop(st, r, out);
	case RECORD_QUEUE_CREATE:
	case RECORD_QUEUE_DELETE:
	case RECORD_QUEUE_PUSH:
	case RECORD_QUEUE_POP:
	case RECORD_QUEUE_ACK:
	case RECORD_QUEUE_RETURN:
	case RECORD_QUEUE_SEAL:
	case RECORD_QUEUE_CAPACITY:
	case RECORD_QUEUE_HELD:
	case RECORD_QUEUE_SETATTR:
		return apply_queue(st, r, out, changed);
	case RECORD_TICKET_LOCK:
	case RECORD_TICKET_UNLOCK:
	case RECORD_TICKET_RELEASE:
	case RECORD_TICKET_CANCEL:
	case RECORD_TICKET_HELD:
		return apply_ticket(st, r, out);
	case RECORD_FILE_CREATE:
	case RECORD_FILE_WRITE:
	case RECORD_FILE_APPEND:
	case RECORD_FILE_REPLACE:
	case RECORD_FILE_TRUNCATE:
	case RECORD_FILE_RENAME:
	case RECORD_FILE_UNLINK:
	case RECORD_FILE_RMDIR:
	case RECORD_FILE_SETATTR:
		return apply_file(st, r, out);
	default:
		return -EINVAL;
	}
}

void state_apply_record(struct state *st, const struct record *r, struct outcome *out,
			struct changes *changed)
{
	int ret = 0;

	/* A session opens itself; every other live record needs its session
	 * open (the fence: a session that was ended cannot change anything). */
	if (r->session && r->kind != RECORD_SESSION_OPEN)
		ret = admit(find_session(st, r->session), r->seq);
	if (ret == 1)
		return;
	st->applying = changed;
	if (!ret)
		ret = apply_kind(st, r, out, changed);
	st->applying = NULL;
	if (r->session && r->kind == RECORD_SESSION_OPEN && !ret)
		admit(find_session(st, r->session), r->seq);
	if (out)
		out->err = ret;
}

/* --- snapshots ------------------------------------------------------------------ */

struct saver {
	struct text *blob;
	int err;
};

static int save_record(void *arg, const struct record *r)
{
	struct saver *s = arg;
	size_t at = s->blob->len;
	unsigned char len[4] = { 0 };

	if (!s->err) {
		text_append(s->blob, (const char *)len, sizeof(len));
		s->err = record_encode(r, s->blob);
	}
	if (s->err)
		return s->err;
	le_put32(s->blob->buf + at, (uint32_t)(s->blob->len - at - 4));
	return 0;
}

static int save_ticket(void *arg, const struct ticket_req *req, bool granted)
{
	struct record r = {
		.kind = RECORD_TICKET_HELD,
		.ticket = req->id,
		.flags = (req->kind == TICKET_POSIX ? RECORD_TICKET_POSIX : 0) |
			 (req->mode == TICKET_EXCLUSIVE ? RECORD_TICKET_EXCLUSIVE : 0) |
			 (granted ? RECORD_TICKET_GRANTED : 0),
		.u = req->owner,
		.v = req->session,
		.i = (int64_t)req->start,
		.j = (int64_t)req->end,
		.queue = req->file,
		.pid = req->pid,
		.time_ns = req->time_ns,
	};

	return save_record(arg, &r);
}

/* One step of the files' dump as the record that applies it. */
static int save_file_step(void *arg, const struct files_step *step)
{
	struct record r = { .queue = step->id, .time_ns = step->time_ns };

	switch (step->kind) {
	case FILES_STEP_CREATE:
		r.kind = RECORD_FILE_CREATE;
		r.u = step->parent;
		r.name = (struct record_bytes){ step->name, step->name_len };
		r.v = step->type;
		r.mode = step->mode;
		r.uid = step->uid;
		r.gid = step->gid;
		break;
	case FILES_STEP_WRITE:
		r.kind = RECORD_FILE_WRITE;
		r.u = step->offset;
		r.data = (struct record_bytes){ step->data, step->len };
		break;
	default: /* FILES_STEP_SETATTR */
		r.kind = RECORD_FILE_SETATTR;
		r.v = FILES_SET_MODE | FILES_SET_MTIME;
		r.mode = step->mode;
		r.j = step->mtime_ns;
		break;
	}
	return save_record(arg, &r);
}

/* Registers and nonzero cells as batches of SET and WRITE. */
static void save_machine(struct state *st, struct saver *s)
{
	unsigned char data[ISA_MAX_BATCH_LINES * RECORD_INSN_BYTES];
	struct record r = { .kind = RECORD_BATCH, .data = { data, 0 } };
	struct isa_insn in = { .op = ISA_SET };
	size_t n = 0;

	for (size_t k = 0; k < ISA_REGISTERS + st->machine.ncells; k++) {
		bool reg = k < ISA_REGISTERS;
		int64_t v = reg ? st->machine.regs[k] : st->machine.cells[k - ISA_REGISTERS];

		if (!v)
			continue;
		in.op = reg ? ISA_SET : ISA_WRITE;
		in.reg = reg ? (int)k : -1;
		in.src.value = v;
		in.cell = reg ? 0 : (int64_t)(k - ISA_REGISTERS);
		record_put_insns(&in, 1, data + n * RECORD_INSN_BYTES);
		if (++n == ISA_MAX_BATCH_LINES) {
			r.data.len = n * RECORD_INSN_BYTES;
			save_record(s, &r);
			n = 0;
		}
	}
	r.data.len = n * RECORD_INSN_BYTES;
	if (n)
		save_record(s, &r);
}

static int compare_sessions(const void *a, const void *b)
{
	const struct session *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int state_save_blob(struct state *st, struct text *blob)
{
	struct saver s = { blob, 0 };
	struct record cells = { .kind = RECORD_CELLS, .u = st->machine.ncells };
	struct session sorted[STATE_MAX_SESSIONS];

	save_record(&s, &cells);
	memcpy(sorted, st->sessions, st->nsessions * sizeof(*sorted));
	qsort(sorted, st->nsessions, sizeof(*sorted), compare_sessions);
	for (size_t i = 0; i < st->nsessions; i++) {
		struct record open = { .kind = RECORD_SESSION_OPEN, .u = sorted[i].id,
				       .v = sorted[i].newest };

		save_record(&s, &open);
	}
	save_machine(st, &s);
	if (!s.err)
		s.err = queues_dump(st->queues, save_record, &s);
	if (!s.err)
		s.err = shop_dump(st->shop, save_record, &s);
	if (!s.err)
		s.err = tickets_dump(st->tickets, save_ticket, &s);
	if (!s.err)
		s.err = files_dump(st->files, save_file_step, &s);
	return s.err;
}

/* Empties the state, as state_new made it, at no position: what a
 * snapshot's records need (apply_create). */
static int reset(struct state *st)
{
	struct queues *qs = queues_new(QUEUES_DEFAULT_CAPACITY);
	struct shop *shop = shop_new();
	struct tickets *tickets = tickets_new();
	struct files *files = files_new();

	if (!qs || !shop || !tickets || !files) {
		queues_free(qs);
		shop_free(shop);
		tickets_free(tickets);
		files_free(files);
		return -ENOMEM;
	}
	queues_free(st->queues);
	shop_free(st->shop);
	tickets_free(st->tickets);
	files_free(st->files);
	st->queues = qs;
	st->shop = shop;
	st->tickets = tickets;
	st->files = files;
	tickets_observe(tickets, state_ticket_left, st);
	memset(st->machine.regs, 0, sizeof(st->machine.regs));
	memset(st->machine.cells, 0, st->machine.ncells * sizeof(int64_t));
	st->nsessions = 0;
	st->applied = 0;
	return 0;
}

struct loader {
	struct state *st;
	size_t index;
	int err;
	char *msg;
	size_t size;
};

static void load_record(void *arg, const void *rec, size_t len)
{
	struct loader *l = arg;
	struct changes changed = { .count = 0 };
	struct outcome out = { .err = 0 };
	struct record r;

	if (l->err)
		return;
	l->index++;
	if (record_decode(rec, len, &r) || r.session) {
		l->err = -EBADMSG;
		snprintf(l->msg, l->size, "record %zu of the snapshot does not decode", l->index);
		return;
	}
	state_apply_record(l->st, &r, &out, &changed);
	if (out.err) {
		l->err = -EBADMSG;
		snprintf(l->msg, l->size, "record %zu of the snapshot (%s) does not apply: %s",
			 l->index, record_kind_name(r.kind), strerror(-out.err));
	}
}

int state_load_blob(struct state *st, const void *blob, size_t len, char *msg, size_t size)
{
	struct loader l = { st, 0, 0, msg, size };
	int ret = reset(st);

	if (ret)
		return ret;
	ret = state_blob_records(blob, len, load_record, &l);
	if (ret) {
		snprintf(msg, size, "the snapshot's records are cut short");
		return ret;
	}
	return l.err;
}
