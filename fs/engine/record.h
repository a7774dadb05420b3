/* record.h - the one record type: every change of the state, as the log
 * keeps it and as apply takes it.
 *
 * A record is a kind, who proposed it (session, sequence, pid), when (the
 * proposer's clock: apply reads no clock), and the fields its kind uses.
 * The encoding is binary-safe and length-prefixed, little-endian, with a
 * version byte first:
 *
 *   record = version:u8 kind:u8 session:u64 seq:u64 time_ns:i64 pid:u32 field*
 *   field  = u64 or i64 (8 bytes) | bytes = length:u32 data[length] | hash[32]
 *          | mode:u32 | owner = uid:u32 gid:u32
 *
 * Which fields a kind has, in order, is the table in record.c (the letters
 * in the list below).  Decoding checks every length against what is left
 * and against the bounds below, so a decoded record is safe to read;
 * whether it makes sense for the state (a queue that exists, an item that
 * fits) is apply's business, and a refusal there is an outcome.
 *
 * A decoded record points into the bytes it was decoded from.
 *
 * Version 2 added owners: a QUEUE_CREATE carries its queue's owner and
 * mode, a FILE_CREATE its node's owner, a FILE_SETATTR an owner it may
 * set, and QUEUE_SETATTR is new.  Records of version 1 still decode, as the
 * version 2 records they stand for: their creates belong to
 * RECORD_OWNER_DAEMON, and a queue of theirs has mode RECORD_QUEUE_MODE_V1
 * (what every queue had then).  Only version 2 is written.
 */
#ifndef RWFS_RECORD_H
#define RWFS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "isa.h"
#include "text.h"

#define RECORD_VERSION 2
#define RECORD_VERSION_OLDEST 1
/* The uid and gid of whoever runs the daemon that shows the node: what a
 * create of version 1 belongs to.  No user has it ((uid_t)-1 is no uid). */
#define RECORD_OWNER_DAEMON UINT32_MAX
#define RECORD_QUEUE_MODE_V1 0666
#define RECORD_HEADER_BYTES 30
#define RECORD_HASH_BYTES 32
#define RECORD_MAX_NAME 255           /* bytes of a name field */
#define RECORD_MAX_DATA (16u << 20)   /* bytes of a data field */
#define RECORD_INSN_BYTES 19          /* op reg src_is_reg src:i64 cell:i64 */

enum record_kind {
	RECORD_BATCH = 1,      /* d: instructions (record_put_insns), all or nothing */
	/* The queue kinds name their queue (n, for the reader and as a check)
	 * and carry its id (q): the log position of the record that created it.
	 * A live CREATE carries 0 (its id is its own position); a snapshot's
	 * carries the id the queue had. */
	RECORD_QUEUE_CREATE,   /* n u o m q: name, capacity, owner, mode */
	RECORD_QUEUE_DELETE,   /* n q */
	RECORD_QUEUE_PUSH,     /* n d q: the items as written, one per line */
	RECORD_QUEUE_POP,      /* n u v q: the head item, held for (session, reader u); room v */
	RECORD_QUEUE_ACK,      /* n u q: reader u received its held item */
	RECORD_QUEUE_RETURN,   /* n u q: reader u did not: the item goes back to the head */
	RECORD_QUEUE_SEAL,     /* n u q: u = 1 seals, 0 unseals */
	RECORD_QUEUE_CAPACITY, /* n u q */
	RECORD_QUEUE_HELD,     /* n u v d q: snapshot: item d held for (session v, reader u) */
	RECORD_PRODUCT,        /* i j n: upc, count, name: a product and its stock */
	RECORD_LOGIN,          /* n h: user, SHA-256 of the token (verdict settled before) */
	RECORD_LOGOUT,         /* h */
	RECORD_BUY,            /* h i j n: the session's token hash, upc, qty, its user */
	RECORD_CELLS,          /* u: the memory has u cells (a shrink needs the cut ones 0) */
	RECORD_SESSION_OPEN,   /* u v: session u begins, its sequences up to v seen */
	RECORD_SESSION_END,    /* v: session v is gone: what it held goes back */
	RECORD_TICKET_LOCK,    /* q u f i j: file q, owner u, RECORD_TICKET_* flags, bytes i..j */
	RECORD_TICKET_UNLOCK,  /* q u f i j: the same, for the owner's range (f: the kind) */
	RECORD_TICKET_RELEASE, /* q u f: the owner closed file q (f: the kind) */
	RECORD_TICKET_CANCEL,  /* w: the wait of ticket w ended (a signal) */
	RECORD_TICKET_HELD,    /* w q u f v i j: snapshot: ticket w of session v, granted or queued */
	/* The file kinds (files.h) address a node by its id (q), or a name (n)
	 * in a directory (u).  A live FILE_CREATE carries 0: the new node's id
	 * is the record's position; a snapshot's carries the id it had. */
	RECORD_FILE_CREATE,    /* u n v m o q: in directory u, name, type v (files.h), mode, owner */
	RECORD_FILE_WRITE,     /* u d q: data at offset u */
	RECORD_FILE_APPEND,    /* d q: data at the end */
	RECORD_FILE_REPLACE,   /* d q: the content becomes data (an O_TRUNC and its first write) */
	RECORD_FILE_TRUNCATE,  /* u q: to size u */
	RECORD_FILE_RENAME,    /* u n v t i: name in u to target in v, flags i */
	RECORD_FILE_UNLINK,    /* u n */
	RECORD_FILE_RMDIR,     /* u n */
	RECORD_FILE_SETATTR,   /* v m o j q: what v sets (files.h): mode, owner, mtime j */
	RECORD_QUEUE_SETATTR,  /* n v m o q: what v sets (queues.h): mode, owner */
	RECORD_KIND_END
};

/* The flags of a ticket record. */
#define RECORD_TICKET_POSIX 1u     /* else flock */
#define RECORD_TICKET_EXCLUSIVE 2u /* else shared */
#define RECORD_TICKET_WAIT 4u      /* a lock: wait in the queue rather than fail */
#define RECORD_TICKET_GRANTED 8u   /* a snapshot's ticket: granted, else queued */

struct record_bytes {
	const void *data;
	size_t len;
};

struct record {
	enum record_kind kind;
	uint64_t session;  /* who proposed it; 0: nobody (a snapshot's records) */
	uint64_t seq;      /* the proposer's sequence: apply ignores a repeat */
	int64_t time_ns;   /* the proposer's wall clock */
	uint32_t pid;      /* the client whose operation it is, 0 if none */
	struct record_bytes name;
	struct record_bytes target; /* a rename's new name */
	struct record_bytes data;
	uint64_t queue;    /* the queue kinds: the id of their queue; tickets: their file */
	uint64_t ticket;   /* a ticket's number: the position of the record that asked */
	uint64_t flags;    /* a ticket record's RECORD_TICKET_* */
	uint32_t mode;     /* a file's or a queue's permission bits */
	uint32_t uid, gid; /* its owner (RECORD_OWNER_DAEMON: the daemon's) */
	uint64_t u, v;
	int64_t i, j;
	uint8_t hash[RECORD_HASH_BYTES];
};

/* Appends the encoding of r (its kind's fields) to out (text.h: any bytes).
 * Returns 0, -EINVAL (a kind or a field out of its bounds: out unchanged)
 * or -ENOMEM (out->oom set). */
int record_encode(const struct record *r, struct text *out);

/* Rewrites the session and sequence of an encoded record in place (the
 * proposer gives them at the last moment, in the order records reach the
 * log). */
void record_set_origin(void *encoded, uint64_t session, uint64_t seq);

/* Decodes len bytes (version 1 or 2) into r.  Returns 0 or -EBADMSG
 * (unknown version or kind, a kind its version did not have, a field past
 * the end, a length over its bound, bytes left over). */
int record_decode(const void *buf, size_t len, struct record *r);

/* The data field of a batch: encodes count instructions into buf (room for
 * count * RECORD_INSN_BYTES bytes) and returns the bytes written. */
size_t record_put_insns(const struct isa_insn *insns, size_t count, unsigned char *buf);

/* Decodes a batch's instructions into out (room for max) and *count; line
 * numbers are 1, 2, ...  Returns 0 or -EBADMSG (a length that is not a
 * whole number of instructions, more than max, an op, register or operand
 * no parser makes). */
int record_get_insns(const struct record *r, struct isa_insn *out, size_t max,
		     size_t *count);

/* "QUEUE_PUSH" for RECORD_QUEUE_PUSH; "?" for anything else. */
const char *record_kind_name(enum record_kind kind);

/* Writes r readably, one line without newline ("seq 7 session 2 pid 4242
 * 12:00:01.204 QUEUE_PUSH \"jobs\" \"a\\nb\" #17"; bytes quoted C-like and cut
 * after 200), NUL-terminated.  Returns the length it needed, like snprintf. */
int record_format(const struct record *r, char *buf, size_t size);

#endif
