/* state.h - the engine's one state object: registers, memory cells,
 * queues, the shop, the sessions, the fair lock that guards them, the
 * counters and the event log.
 *
 * Every change goes one way (the funnel): an operation becomes one record
 * (record.h); the log (log.h) gives it a position; one deterministic apply
 * function changes the state and produces the outcome, which the proposer
 * gets back.  Replay at start-up, the live path and (later) another host's
 * changes are the same apply.  A refusal (division by zero, a full queue,
 * no stock) is an outcome: the state is unchanged, and for a change that
 * came from a client the function below returns it as -errno.
 *
 * Reads take the shared lock, apply the exclusive lock.  Nothing here
 * knows about FUSE; the tests drive it directly.
 *
 * Lock order, outermost first: the log's append lock, the state lock, the
 * event log's lock.  Observers are called with none of them held.
 */
#ifndef RWFS_STATE_H
#define RWFS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "evlog.h"
#include "files.h"
#include "isa.h"
#include "queue.h"
#include "queues.h"

#define STATE_DEFAULT_CELLS 256
#define STATE_MAX_CELLS (1u << 20)
#define STATE_DIGEST_HEX 64

struct state;
struct log;
struct reply;

/* A new state: every register at 0, STATE_DEFAULT_CELLS cells at 0, no
 * queue, no product, no session.  console (may be NULL) receives the
 * event log.  Returns NULL when out of memory. */
struct state *state_new(FILE *console);

/* Frees the state and closes its log; NULL is a no-op.  No lock may be
 * held. */
void state_free(struct state *st);

size_t state_ncells(struct state *st);
struct evlog *state_evlog(struct state *st);

/* Hands st the log that orders and keeps its changes, before any change;
 * st owns it from now on (state_free closes it).  Replays what the log
 * holds through apply.  Returns 0, or -EBADMSG with msg (a record or
 * snapshot that cannot be decoded or does not apply: the state is not
 * usable then) or -ENOMEM.  Until then a new state keeps its records in a
 * memory log (log/memory.h): nothing survives the process. */
int state_attach_log(struct state *st, struct log *log, char *msg, size_t size);

/* The log st follows (the memory log until state_attach_log). */
struct log *state_log(struct state *st);

/* Begins this process's session (its records carry it): ends the sessions
 * of earlier runs (their held queue items go back), then sets the number
 * of cells (1..STATE_MAX_CELLS).  session is a number no earlier run used
 * (the daemon takes its start time in ns).  Returns 0, -EBUSY with msg
 * (fewer cells would drop a cell that holds a value), or the log's -errno. */
int state_begin(struct state *st, uint64_t session, size_t ncells, char *msg, size_t size);

/* Returns once st holds every change its log held when the call began:
 * with a log shared by several hosts, every change acknowledged on any of
 * them (the reads of mnt/ call it first, so they are linearizable).  At
 * once with a log of one host.  0, or -ETIMEDOUT / -EIO. */
int state_catch_up(struct state *st);

/* The encoded record that ends session (its held queue items go back,
 * its tickets are released), for a shared log to apply when this host is
 * gone.  Returns 0 and a malloc'd *rec the caller frees, or -ENOMEM. */
int state_farewell(uint64_t session, void **rec, size_t *len);

/* Called after every applied change of queue id (created, removed, an
 * item in or out, sealed...), from the thread that applied it, with no
 * engine lock held.  One observer; NULL clears it. */
typedef void (*state_observer_fn)(void *arg, uint64_t queue_id);
void state_observe(struct state *st, state_observer_fn fn, void *arg);

/* --- registers and cells ------------------------------------------------ */

/* The value of register reg (0..25), under the shared lock. */
int64_t state_read_register(struct state *st, int reg);

/* The value of a cell, under the shared lock.  Returns 0 or -ENXIO. */
int state_read_cell(struct state *st, size_t cell, int64_t *out);

/* All registers, under one shared lock: one consistent snapshot. */
void state_read_registers(struct state *st, int64_t out[ISA_REGISTERS]);

/* Runs count instructions as one record, all or nothing.  When reply is
 * not NULL it receives the batch's reply (reply.h; the caller frees it):
 * what each instruction did, or on failure the error.  *reply is NULL on
 * entry, or a reply whose instructions insns are (reply_reserve), which
 * state_run then owns and uses instead of a copy.  Returns 0 or the
 * refusal (-EDOM, -ERANGE, -ENXIO), the log's -errno (-ENOSPC, -EIO:
 * nothing changed) or -ENOMEM (nothing ran, *reply NULL); *err (may be
 * NULL) says where.  pid: the client, for the record.  Returns once the
 * change is as durable as the log promises. */
int state_run(struct state *st, const struct isa_insn *insns, size_t count, uint32_t pid,
	      struct reply **reply, struct isa_error *err);

/* Parses text as a batch and runs it: the mnt/ctl write.  Parse errors
 * come back as from isa_parse_batch (-EINVAL, -ERANGE, -EFBIG, -E2BIG)
 * with nothing run and the error in the reply; otherwise as state_run. */
int state_execute(struct state *st, const char *text, size_t len, uint32_t pid,
		  struct reply **reply, struct isa_error *err);

/* --- queues -----------------------------------------------------------
 *
 * Queues are named by their id, looked up by name: the log position of the
 * record that created the queue, so never reused, and the same after a
 * restart, in a snapshot and on every engine that applied the same records.  A change that the state refuses now
 * (-EAGAIN: no item, no room) is not proposed at all: the caller parks and
 * tries again when the observer says the queue changed.
 */

/* Sets the capacity of queues created from now on (1..QUEUES_MAX_CAPACITY). */
int state_set_queue_capacity(struct state *st, size_t capacity);

/* Creates an empty, unsealed queue owned by uid and gid with mode (the
 * owner's write bit added when it has none).  Returns 0 and *id, -EINVAL (bad name, mode outside
 * QUEUE_MODE_MASK), -EEXIST, -ENOSPC (too many queues) or the log's error. */
int state_queue_create(struct state *st, const char *name, size_t len, uint32_t mode,
		       uint32_t uid, uint32_t gid, uint32_t pid, uint64_t *id);

/* Deletes the queue and its items.  Returns 0 and its *id, or -ENOENT. */
int state_queue_delete(struct state *st, const char *name, size_t len, uint32_t pid,
		       uint64_t *id);

/* Looks a queue up by name: 0 and *id, or -ENOENT.  stats may be NULL. */
int state_queue_find(struct state *st, const char *name, size_t len, uint64_t *id,
		     struct queue_stats *stats);

/* The i-th queue (from 0): its id, name and stats (either may be NULL), or
 * -ENOENT past the end. */
int state_queue_at(struct state *st, size_t i, uint64_t *id,
		   char name[QUEUE_NAME_MAX + 1], struct queue_stats *stats);

/* The stats and name (may be NULL) of queue id, or -ENOENT. */
int state_queue_stats(struct state *st, uint64_t id, char name[QUEUE_NAME_MAX + 1],
		      struct queue_stats *stats);

/* Pushes every line of text as an item, all or nothing.  Returns 0, or
 * -EAGAIN (no room now), -EPIPE (sealed), -EFBIG (more items than the
 * capacity), -EMSGSIZE (an item over QUEUE_MAX_ITEM), -ENOSPC (all queues
 * hold too much), -ENOENT (deleted), or the log's error. */
int state_queue_push(struct state *st, uint64_t id, const char *text, size_t len,
		     uint32_t pid);

/* Takes the head item for a reader, if it fits in room bytes with its
 * newline: the item is copied into item (room for QUEUE_MAX_ITEM bytes)
 * and *len, and held for the reader *ticket until state_queue_ack (it was
 * delivered) or state_queue_unpop (it was not: back to the head).  If this
 * process dies first, the item goes back at the next start.  Returns 0, 1
 * at end of file (sealed and empty), -EAGAIN (empty), -EMSGSIZE (room too
 * small: the item stays), -ENOENT (deleted), or the log's error. */
int state_queue_pop(struct state *st, uint64_t id, size_t room, uint32_t pid, char *item,
		    size_t *len, uint64_t *ticket);

/* The reader of ticket received its item.  0 or -errno. */
int state_queue_ack(struct state *st, uint64_t id, uint64_t ticket);

/* The reader of ticket did not receive its item: it goes back to the head.
 * 0 or -errno. */
int state_queue_unpop(struct state *st, uint64_t id, uint64_t ticket);

/* Seals (no more pushes) or unseals a queue.  0 or -ENOENT, log errors. */
int state_queue_seal(struct state *st, uint64_t id, bool sealed, uint32_t pid);

/* Sets what `what` says (QUEUES_SET_MODE: mode, which seals or unseals;
 * QUEUES_SET_OWNER: uid and gid).  0, -ENOENT, -EINVAL, log errors. */
int state_queue_setattr(struct state *st, uint64_t id, unsigned what, uint32_t mode,
			uint32_t uid, uint32_t gid, uint32_t pid);

/* Sets a queue's capacity (1..QUEUES_MAX_CAPACITY, else -EINVAL). */
int state_queue_set_capacity(struct state *st, uint64_t id, size_t capacity,
			     uint32_t pid);

/* --- the shop -------------------------------------------------------------
 *
 * The shop's stock and sessions are state, changed by records; its users
 * are configuration, and so is the password check, which runs before a
 * login's record is made.
 */

/* Loads the users from path (USER:HASH lines), or the demo users when path
 * is NULL.  0 or -errno with msg. */
int state_shop_users(struct state *st, const char *path, char *msg, size_t size);

/* Seeds the stock from the CSV at path (the demo stock when NULL) if the
 * state holds no products yet: after the replay, so a restart never
 * refills the shelves.  0 or -errno with msg ("FILE:LINE: what"). */
int state_shop_seed(struct state *st, const char *path, char *msg, size_t size);

/* Answers one request line of mnt/shop: *reply (malloc'd, the caller frees;
 * first line "ok ..." or "error ...") and summary, a line for the event log
 * that shows no password and no token.  A refusal (wrong password, not
 * logged in, no stock...) is an answer: 0 with an "error" reply.  Fails
 * only for a request that was not understood (-EINVAL, -EMSGSIZE: the
 * reply says why), a change the log refused (-ENOSPC, -EIO: nothing
 * changed), or -ENOMEM (no reply).  The password check runs without any
 * lock; purchases are decided by apply, so stock is never oversold. */
int state_shop_request(struct state *st, const char *line, size_t len, uint32_t pid,
		       char **reply, size_t *reply_len, char *summary, size_t summary_size);

/* True when line is a well-formed login request: the one whose answer
 * takes long (the password check), which a caller may want to run apart. */
bool state_shop_is_login(const char *line, size_t len);

/* Writes the `UPC NAME COUNT` lines of mnt/inventory, under the shared
 * lock.  Returns the length it needed, like snprintf. */
int state_format_inventory(struct state *st, char *buf, size_t size);

/* --- tickets ---------------------------------------------------------------
 *
 * The locks the daemon grants (flock and POSIX byte ranges, tickets.h says
 * who conflicts and who waits), for any file: file is the caller's key
 * (the inode number).  The owner is the caller's (the kernel's lock owner)
 * within this process's session.  A ticket is numbered by the position of
 * the record that asked for it.
 */

struct state_ticket {
	uint64_t file;
	bool posix;       /* else flock */
	bool exclusive;   /* else shared */
	uint64_t owner;
	uint64_t start;   /* bytes start..end, end included; flock: ignored */
	uint64_t end;     /* UINT64_MAX: to the end of the file, however long */
	uint32_t pid;     /* the process that asked, as F_GETLK reports it */
};

/* A ticket that left its queue: granted (after waited_ns), or removed
 * without a grant (cancelled, its owner closed the file, its session
 * ended).  ticket 0 means more left than one change reports: every waiter
 * looks again (state_ticket_waiting). */
struct state_ticket_event {
	uint64_t ticket;
	bool granted;
	int64_t waited_ns;
};

/* Called after every applied change that let tickets out of a queue, once
 * per ticket, from the thread that applied it, with no engine lock held.
 * One observer; NULL clears it. */
typedef void (*state_ticket_observer_fn)(void *arg, const struct state_ticket_event *e);
void state_observe_tickets(struct state *st, state_ticket_observer_fn fn, void *arg);

/* Asks for t.  Returns 0 (granted), 1 (waiting: *ticket is its number, and
 * the observer tells its grant), -EAGAIN (it conflicts, or others wait
 * before it, and wait is false), -ENOLCK (too many tickets), -EINVAL, or
 * the log's -errno. */
int state_ticket_lock(struct state *st, const struct state_ticket *t, bool wait,
		      uint64_t *ticket);

/* Unlocks t's range (flock: the lock) of t's owner.  0 or -errno. */
int state_ticket_unlock(struct state *st, const struct state_ticket *t);

/* The owner closed the file: its tickets of that kind on it go.  Returns
 * 1 when some went, 0 when it had none (and no record was made), or the
 * log's -errno. */
int state_ticket_release(struct state *st, uint64_t file, bool posix, uint64_t owner,
			 uint32_t pid);

/* Ends the wait of ticket (a signal).  Returns 0, -ENOENT when it is not
 * waiting (its grant came first), or the log's -errno. */
int state_ticket_cancel(struct state *st, uint64_t ticket);

/* True while ticket waits in a queue. */
bool state_ticket_waiting(struct state *st, uint64_t ticket);

/* F_GETLK: true when a granted ticket of another owner conflicts with t,
 * copied to *holder (its range, mode and pid). */
bool state_ticket_conflict(struct state *st, const struct state_ticket *t,
			   struct state_ticket *holder);

/* --- shared files -----------------------------------------------------------
 *
 * The tree of mnt/files/ (files.h): nodes by id, FILES_ROOT the top.  Each
 * change is one record; apply decides (files.h lists its refusals), and a
 * refusal comes back as the -errno of the call, with nothing changed.  A
 * change that is plainly refused now (a name that is not valid, a node
 * that is gone, a write past FILES_MAX_FILE_SIZE) makes no record.  The
 * changes also return the log's -errno (-ENOSPC, -EIO: nothing changed)
 * and -ENOMEM; pid is the client, for the record.  The looks run under the
 * shared lock, pins under the exclusive lock.
 */

/* Makes an empty file or directory (dir) with mode, owned by uid and gid,
 * in directory parent: 0 and its *id. */
int state_file_create(struct state *st, uint64_t parent, const char *name, size_t len,
		      bool dir, uint32_t mode, uint32_t uid, uint32_t gid, uint32_t pid,
		      uint64_t *id);

/* Writes len bytes (at most RECORD_MAX_DATA) of data at offset. */
int state_file_write(struct state *st, uint64_t id, uint64_t offset, const void *data,
		     size_t len, uint32_t pid);

/* Writes len bytes at the end, wherever it is when applied: 0 and *offset,
 * where they went. */
int state_file_append(struct state *st, uint64_t id, const void *data, size_t len,
		      uint32_t pid, uint64_t *offset);

/* The content becomes exactly data, in one change (files_apply_replace). */
int state_file_replace(struct state *st, uint64_t id, const void *data, size_t len,
		       uint32_t pid);

/* Cuts or extends the content to size bytes. */
int state_file_truncate(struct state *st, uint64_t id, uint64_t size, uint32_t pid);

/* rename(2) of old_name in old_parent to new_name in new_parent; flags 0
 * or FILES_RENAME_NOREPLACE. */
int state_file_rename(struct state *st, uint64_t old_parent, const char *old_name,
		      size_t old_len, uint64_t new_parent, const char *new_name,
		      size_t new_len, unsigned flags, uint32_t pid);

/* Removes the file, or the empty directory (dir), called name in parent. */
int state_file_unlink(struct state *st, uint64_t parent, const char *name, size_t len,
		      bool dir, uint32_t pid);

/* Sets what `what` says (FILES_SET_MODE, FILES_SET_MTIME, FILES_SET_OWNER:
 * uid and gid) of node id. */
int state_file_setattr(struct state *st, uint64_t id, unsigned what, uint32_t mode,
		       uint32_t uid, uint32_t gid, int64_t mtime_ns, uint32_t pid);

/* The id and attributes (attr may be NULL) of name in parent: 0,
 * -ENOENT or -ENOTDIR. */
int state_file_lookup(struct state *st, uint64_t parent, const char *name, size_t len,
		      uint64_t *id, struct files_attr *attr);

/* The attributes of node id (also pinned and unlinked): 0 or -ENOENT. */
int state_file_attr(struct state *st, uint64_t id, struct files_attr *attr);

/* Copies up to size bytes from offset into buf, under one shared lock: one
 * version of the file.  Returns the bytes copied, -ENOENT or -EISDIR. */
ssize_t state_file_read(struct state *st, uint64_t id, uint64_t offset, void *buf,
			size_t size);

/* files_readdir under the shared lock: fn must not call the state. */
int state_file_readdir(struct state *st, uint64_t dir, const char *after_name,
		       size_t after_len,
		       int (*fn)(void *arg, const char *name, size_t len, uint64_t id,
				 enum files_type type),
		       void *arg);

/* Pins node id while a handle on it is open, so that it stays readable
 * when unlinked; unpin takes the pin off.  0 or -ENOENT (unpin: -EINVAL
 * too, for a node without a pin). */
int state_file_pin(struct state *st, uint64_t id);
int state_file_unpin(struct state *st, uint64_t id);

/* --- the state as a whole ------------------------------------------------ */

/* Writes the `name value` lines of mnt/stats into buf (NUL-terminated),
 * among them `applied POSITION` and `state_digest HEX`.  Returns the
 * length it needed, like snprintf. */
int state_format_stats(struct state *st, char *buf, size_t size);

/* The position of the last applied record and the SHA-256 of the
 * canonical state (the records a snapshot holds), as lowercase hex: two
 * states that applied the same records have the same digest.  0 or
 * -ENOMEM. */
int state_digest(struct state *st, uint64_t *applied, char hex[STATE_DIGEST_HEX + 1]);

/* Has the log replace what it holds by a snapshot of the state now (the
 * log also asks for one by itself when it has grown).  0 or -errno. */
int state_compact(struct state *st);

/* Calls fn with each record of a snapshot blob (as the log keeps it), in
 * order: for --dump.  Returns 0 or -EBADMSG (a damaged blob). */
int state_blob_records(const void *blob, size_t len,
		       void (*fn)(void *arg, const void *rec, size_t len), void *arg);

#endif
