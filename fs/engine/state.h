/* state.h - the engine's one state object: registers, memory cells, the
 * fair lock that guards them, the counters and the event log.
 *
 * Reads take the shared lock, mutations the exclusive lock.  Every mutation
 * enters through state_apply as instructions of the isa language, so there
 * is exactly one place where the state changes.  Nothing here knows about
 * FUSE; the tests drive it directly.
 */
#ifndef RWFS_STATE_H
#define RWFS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "evlog.h"
#include "isa.h"
#include "queue.h"

#define STATE_DEFAULT_CELLS 256
#define STATE_MAX_CELLS (1u << 20)

struct state;

/* A new state with every register and ncells cells at 0 (1 <= ncells <=
 * STATE_MAX_CELLS).  console (may be NULL) receives the event log.
 * Returns NULL when out of memory. */
struct state *state_new(size_t ncells, FILE *console);

/* Frees the state; NULL is a no-op.  No lock may be held. */
void state_free(struct state *st);

size_t state_ncells(const struct state *st);
struct evlog *state_evlog(struct state *st);

/* The value of register reg (0..25), under the shared lock. */
int64_t state_read_register(struct state *st, int reg);

/* The value of a cell, under the shared lock.  Returns 0 or -ENXIO. */
int state_read_cell(struct state *st, size_t cell, int64_t *out);

/* All registers, under one shared lock: one consistent snapshot. */
void state_read_registers(struct state *st, int64_t out[ISA_REGISTERS]);

/* Runs count instructions under the exclusive lock, all or nothing.  When
 * reply is not NULL it receives a malloc'd text the caller frees: one line
 * per instruction ("ok ADD A B -> A=42\n"), or on failure the single line
 * "error line N: TEXT: MESSAGE\n".  Returns 0 or the -errno of
 * isa_execute (-EDOM, -ERANGE, -ENXIO), the journal's -ENOSPC or -EIO
 * (then nothing changed), or -ENOMEM; *err (may be NULL) says where.  With
 * a store in "always" mode it returns once the batch is on disk. */
int state_apply(struct state *st, const struct isa_insn *insns, size_t count,
		char **reply, size_t *reply_len, struct isa_error *err);

/* Parses text as a batch and applies it: the mnt/ctl write.  Parse errors
 * come back as from isa_parse_batch (-EINVAL, -ERANGE, -EFBIG, -E2BIG)
 * with nothing run and the same "error line N: ..." reply. */
int state_execute(struct state *st, const char *text, size_t len,
		  char **reply, size_t *reply_len, struct isa_error *err);

struct store;

/* Hands st the store that makes its changes durable; st owns it from now
 * on (state_free closes it).  From then on state_apply journals every batch
 * before it returns, and a batch the journal refuses (-ENOSPC, -EIO) is
 * taken back: the state in memory stays what was last made durable. */
void state_attach_store(struct state *st, struct store *store);

/* A store_apply_fn (see store.h) that runs one journaled batch on the
 * state (arg) without journaling it again: the replay at start-up.
 * Returns 0 or -EBADMSG when the record is not a batch that runs. */
int state_restore(void *arg, const char *text, size_t len);

/* --- queues -----------------------------------------------------------
 *
 * Queues are named by their id (stable while the daemon runs, never
 * reused), looked up by name.  Every change is a record journaled before it
 * is applied (see queues.h); a change the journal refuses fails with its
 * -ENOSPC or -EIO and changes nothing.  All of these take the state lock:
 * shared to look, exclusive to change.  None blocks for long: a caller
 * that must wait for an item or for room gets -EAGAIN and waits itself.
 */

/* Sets the capacity of queues created from now on (1..QUEUES_MAX_CAPACITY). */
int state_set_queue_capacity(struct state *st, size_t capacity);

/* Creates an empty queue.  Returns 0 and *id, -EINVAL (bad name), -EEXIST,
 * -ENOSPC (too many queues) or the journal's error. */
int state_queue_create(struct state *st, const char *name, size_t len, uint64_t *id);

/* Deletes the queue and its items.  Returns 0 and its *id, or -ENOENT. */
int state_queue_delete(struct state *st, const char *name, size_t len, uint64_t *id);

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
 * hold too much), -ENOENT (deleted), or the journal's error. */
int state_queue_push(struct state *st, uint64_t id, const char *text, size_t len);

/* Pops the head item into item (room for QUEUE_MAX_ITEM bytes; no
 * newline) if it fits in room bytes with its newline.  Returns 0 and *len,
 * 1 at end of file (sealed and empty), -EAGAIN (empty), -EMSGSIZE (room
 * too small: the item stays), -ENOENT (deleted), or the journal's error. */
int state_queue_pop(struct state *st, uint64_t id, size_t room, char *item, size_t *len);

/* Puts a popped item back at the head: its reader was gone.  0 or -errno. */
int state_queue_unpop(struct state *st, uint64_t id, const char *item, size_t len);

/* Seals (no more pushes) or unseals a queue.  0 or -ENOENT, journal errors. */
int state_queue_seal(struct state *st, uint64_t id, bool sealed);

/* Sets a queue's capacity (1..QUEUES_MAX_CAPACITY, else -EINVAL). */
int state_queue_set_capacity(struct state *st, uint64_t id, size_t capacity);

/* --- the shop -------------------------------------------------------------
 *
 * The shop's stock and sessions are state, changed by journaled records
 * (see shop.h); its users are configuration.
 */

/* Loads the users from path (USER:HASH lines), or the demo users when path
 * is NULL.  Before the journal is replayed.  0 or -errno with msg. */
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
 * reply says why), a change the journal refused (-ENOSPC, -EIO: nothing
 * changed), or -ENOMEM (no reply).  The password check runs without any
 * lock; purchases run under the exclusive lock, so stock is never
 * oversold. */
int state_shop_request(struct state *st, const char *line, size_t len, char **reply,
		       size_t *reply_len, char *summary, size_t summary_size);

/* True when line is a well-formed login request: the one whose answer
 * takes long (the password check), which a caller may want to run apart. */
bool state_shop_is_login(const char *line, size_t len);

/* Writes the `UPC NAME COUNT` lines of mnt/inventory, under the shared
 * lock.  Returns the length it needed, like snprintf. */
int state_format_inventory(struct state *st, char *buf, size_t size);

/* Writes the `name value` lines of mnt/stats into buf (NUL-terminated).
 * Returns the length it needed, like snprintf. */
int state_format_stats(struct state *st, char *buf, size_t size);

#endif
