/* record.c - the one record type and its encoding.  See record.h.
 *
 * Each kind's fields are a string of letters in the table below, encoded
 * in that order, so the encoder, the decoder and the formatter are three
 * loops over one table and cannot disagree.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "le.h"
#include "record.h"

/* n name, d data, u and v unsigned, i and j signed, h hash, q queue id
 * (or a ticket's file, or a file's node), w a ticket's number, f a
 * ticket's flags, t a rename's target name, m a file's or queue's mode, o
 * an owner (uid, gid).
 * The id comes last, so that a formatted queue record keeps its name and
 * values together and ends in " #id". */
static const char *const layout[RECORD_KIND_END] = {
	[RECORD_BATCH] = "d",
	[RECORD_QUEUE_CREATE] = "nuomq",
	[RECORD_QUEUE_DELETE] = "nq",
	[RECORD_QUEUE_PUSH] = "ndq",
	[RECORD_QUEUE_POP] = "nuvq",
	[RECORD_QUEUE_ACK] = "nuq",
	[RECORD_QUEUE_RETURN] = "nuq",
	[RECORD_QUEUE_SEAL] = "nuq",
	[RECORD_QUEUE_CAPACITY] = "nuq",
	[RECORD_QUEUE_HELD] = "nuvdq",
	[RECORD_PRODUCT] = "ijn",
	[RECORD_LOGIN] = "nh",
	[RECORD_LOGOUT] = "h",
	[RECORD_BUY] = "hijn",
	[RECORD_CELLS] = "u",
	[RECORD_SESSION_OPEN] = "uv",
	[RECORD_SESSION_END] = "v",
	[RECORD_TICKET_LOCK] = "fuijq",
	[RECORD_TICKET_UNLOCK] = "fuijq",
	[RECORD_TICKET_RELEASE] = "fuq",
	[RECORD_TICKET_CANCEL] = "w",
	[RECORD_TICKET_HELD] = "wfuvijq",
	[RECORD_FILE_CREATE] = "unvmoq",
	[RECORD_FILE_WRITE] = "udq",
	[RECORD_FILE_APPEND] = "dq",
	[RECORD_FILE_REPLACE] = "dq",
	[RECORD_FILE_TRUNCATE] = "uq",
	[RECORD_FILE_RENAME] = "unvti",
	[RECORD_FILE_UNLINK] = "un",
	[RECORD_FILE_RMDIR] = "un",
	[RECORD_FILE_SETATTR] = "vmojq",
	[RECORD_QUEUE_SETATTR] = "nvmoq",
};

/* The kinds whose fields version 1 had otherwise; kinds from
 * RECORD_QUEUE_SETATTR on it did not have at all. */
static const char *const layout_v1[RECORD_KIND_END] = {
	[RECORD_QUEUE_CREATE] = "nuq",
	[RECORD_FILE_CREATE] = "unvmq",
	[RECORD_FILE_SETATTR] = "vmjq",
};

static const char *const names[RECORD_KIND_END] = {
	[RECORD_BATCH] = "BATCH",
	[RECORD_QUEUE_CREATE] = "QUEUE_CREATE",
	[RECORD_QUEUE_DELETE] = "QUEUE_DELETE",
	[RECORD_QUEUE_PUSH] = "QUEUE_PUSH",
	[RECORD_QUEUE_POP] = "QUEUE_POP",
	[RECORD_QUEUE_ACK] = "QUEUE_ACK",
	[RECORD_QUEUE_RETURN] = "QUEUE_RETURN",
	[RECORD_QUEUE_SEAL] = "QUEUE_SEAL",
	[RECORD_QUEUE_CAPACITY] = "QUEUE_CAPACITY",
	[RECORD_QUEUE_HELD] = "QUEUE_HELD",
	[RECORD_PRODUCT] = "PRODUCT",
	[RECORD_LOGIN] = "LOGIN",
	[RECORD_LOGOUT] = "LOGOUT",
	[RECORD_BUY] = "BUY",
	[RECORD_CELLS] = "CELLS",
	[RECORD_SESSION_OPEN] = "SESSION_OPEN",
	[RECORD_SESSION_END] = "SESSION_END",
	[RECORD_TICKET_LOCK] = "TICKET_LOCK",
	[RECORD_TICKET_UNLOCK] = "TICKET_UNLOCK",
	[RECORD_TICKET_RELEASE] = "TICKET_RELEASE",
	[RECORD_TICKET_CANCEL] = "TICKET_CANCEL",
	[RECORD_TICKET_HELD] = "TICKET_HELD",
	[RECORD_FILE_CREATE] = "FILE_CREATE",
	[RECORD_FILE_WRITE] = "FILE_WRITE",
	[RECORD_FILE_APPEND] = "FILE_APPEND",
	[RECORD_FILE_REPLACE] = "FILE_REPLACE",
	[RECORD_FILE_TRUNCATE] = "FILE_TRUNCATE",
	[RECORD_FILE_RENAME] = "FILE_RENAME",
	[RECORD_FILE_UNLINK] = "FILE_UNLINK",
	[RECORD_FILE_RMDIR] = "FILE_RMDIR",
	[RECORD_FILE_SETATTR] = "FILE_SETATTR",
	[RECORD_QUEUE_SETATTR] = "QUEUE_SETATTR",
};

static bool kind_valid(int kind)
{
	return kind > 0 && kind < RECORD_KIND_END;
}

const char *record_kind_name(enum record_kind kind)
{
	return kind_valid((int)kind) ? names[kind] : "?";
}

/* --- encoding ------------------------------------------------------------ */

/* The header: version and kind bytes, then these fields at fixed offsets. */
enum { AT_SESSION = 2, AT_SEQ = 10, AT_TIME = 18, AT_PID = 26 };

/* The bytes field f of r takes, or 0 when it is over its bound. */
static size_t field_size(const struct record *r, char f)
{
	switch (f) {
	case 'n': return r->name.len <= RECORD_MAX_NAME ? 4 + r->name.len : 0;
	case 't': return r->target.len <= RECORD_MAX_NAME ? 4 + r->target.len : 0;
	case 'm': return 4;
	case 'd': return r->data.len <= RECORD_MAX_DATA ? 4 + r->data.len : 0;
	case 'h': return RECORD_HASH_BYTES;
	default: return 8;
	}
}

static unsigned char *put_bytes(unsigned char *p, const struct record_bytes *b)
{
	le_put32(p, (uint32_t)b->len);
	if (b->len) /* an empty field may come as NULL */
		memcpy(p + 4, b->data, b->len);
	return p + 4 + b->len;
}

static unsigned char *put_field(unsigned char *p, const struct record *r, char f)
{
	switch (f) {
	case 'n': return put_bytes(p, &r->name);
	case 't': return put_bytes(p, &r->target);
	case 'm': le_put32(p, r->mode); return p + 4;
	case 'o': le_put32(p, r->uid); le_put32(p + 4, r->gid); return p + 8;
	case 'd': return put_bytes(p, &r->data);
	case 'h': memcpy(p, r->hash, RECORD_HASH_BYTES); return p + RECORD_HASH_BYTES;
	case 'u': le_put64(p, r->u); break;
	case 'v': le_put64(p, r->v); break;
	case 'q': le_put64(p, r->queue); break;
	case 'w': le_put64(p, r->ticket); break;
	case 'f': le_put64(p, r->flags); break;
	case 'i': le_put64(p, (uint64_t)r->i); break;
	default: le_put64(p, (uint64_t)r->j); break; /* 'j' */
	}
	return p + 8;
}

/* Sizes the record first, so that it is written in place with one growth
 * of out: encoding is on every write's path. */
int record_encode(const struct record *r, struct text *out)
{
	size_t size = RECORD_HEADER_BYTES, n;
	unsigned char *p;

	if (!kind_valid((int)r->kind))
		return -EINVAL;
	for (const char *f = layout[r->kind]; *f; f++) {
		n = field_size(r, *f);
		if (!n)
			return -EINVAL;
		size += n;
	}
	p = (unsigned char *)text_extend(out, size);
	if (!p)
		return -ENOMEM;
	p[0] = RECORD_VERSION;
	p[1] = (unsigned char)r->kind;
	le_put64(p + AT_SESSION, r->session);
	le_put64(p + AT_SEQ, r->seq);
	le_put64(p + AT_TIME, (uint64_t)r->time_ns);
	le_put32(p + AT_PID, r->pid);
	p += RECORD_HEADER_BYTES;
	for (const char *f = layout[r->kind]; *f; f++)
		p = put_field(p, r, *f);
	return 0;
}

void record_set_origin(void *encoded, uint64_t session, uint64_t seq)
{
	le_put64((unsigned char *)encoded + AT_SESSION, session);
	le_put64((unsigned char *)encoded + AT_SEQ, seq);
}

/* --- decoding ------------------------------------------------------------ */

struct reader {
	const unsigned char *p;
	size_t left;
	bool bad;
};

static const unsigned char *take(struct reader *rd, size_t n)
{
	const unsigned char *p = rd->p;

	if (rd->bad || n > rd->left) {
		rd->bad = true;
		return NULL;
	}
	rd->p += n;
	rd->left -= n;
	return p;
}

static uint32_t get_u32(struct reader *rd)
{
	const unsigned char *p = take(rd, 4);

	return p ? le_get32(p) : 0;
}

static uint64_t get_u64(struct reader *rd)
{
	const unsigned char *p = take(rd, 8);

	return p ? le_get64(p) : 0;
}

static void get_bytes(struct reader *rd, struct record_bytes *b, size_t max)
{
	size_t len = (size_t)get_u32(rd);

	if (len > max)
		rd->bad = true;
	b->data = take(rd, len);
	b->len = rd->bad ? 0 : len;
}

/* The fields of kind in a record of version, which is known; NULL for a
 * kind that version did not have. */
static const char *layout_of(int version, int kind)
{
	if (version == RECORD_VERSION)
		return layout[kind];
	if (kind >= RECORD_QUEUE_SETATTR)
		return NULL;
	return layout_v1[kind] ? layout_v1[kind] : layout[kind];
}

/* What a record of version 1 leaves out means: the daemon's, with the
 * modes of then (a FILE_CREATE of version 1 carries its mode). */
static void fill_v1(struct record *r)
{
	r->uid = r->gid = RECORD_OWNER_DAEMON;
	if (r->kind == RECORD_QUEUE_CREATE)
		r->mode = RECORD_QUEUE_MODE_V1;
}

/* Every version has the same header: it is read in place, with one check
 * of the length. */
int record_decode(const void *buf, size_t len, struct record *r)
{
	const unsigned char *head = buf, *hash;
	struct reader rd;
	int version, kind;
	const char *fields;

	memset(r, 0, sizeof(*r));
	if (len < RECORD_HEADER_BYTES)
		return -EBADMSG;
	version = head[0];
	kind = head[1];
	if (version < RECORD_VERSION_OLDEST || version > RECORD_VERSION || !kind_valid(kind))
		return -EBADMSG;
	fields = layout_of(version, kind);
	if (!fields)
		return -EBADMSG;
	r->kind = (enum record_kind)kind;
	if (version < RECORD_VERSION)
		fill_v1(r);
	r->session = le_get64(head + AT_SESSION);
	r->seq = le_get64(head + AT_SEQ);
	r->time_ns = (int64_t)le_get64(head + AT_TIME);
	r->pid = le_get32(head + AT_PID);
	rd = (struct reader){ head + RECORD_HEADER_BYTES, len - RECORD_HEADER_BYTES, false };
	for (const char *f = fields; *f; f++) {
		switch (*f) {
		case 'n': get_bytes(&rd, &r->name, RECORD_MAX_NAME); break;
		case 't': get_bytes(&rd, &r->target, RECORD_MAX_NAME); break;
		case 'm': r->mode = get_u32(&rd); break;
		case 'o':
			r->uid = get_u32(&rd);
			r->gid = get_u32(&rd);
			break;
		case 'd': get_bytes(&rd, &r->data, RECORD_MAX_DATA); break;
		case 'u': r->u = get_u64(&rd); break;
		case 'v': r->v = get_u64(&rd); break;
		case 'q': r->queue = get_u64(&rd); break;
		case 'w': r->ticket = get_u64(&rd); break;
		case 'f': r->flags = get_u64(&rd); break;
		case 'i': r->i = (int64_t)get_u64(&rd); break;
		case 'j': r->j = (int64_t)get_u64(&rd); break;
		case 'h':
			hash = take(&rd, RECORD_HASH_BYTES);
			if (hash)
				memcpy(r->hash, hash, RECORD_HASH_BYTES);
			break;
		}
	}
	return rd.bad || rd.left ? -EBADMSG : 0;
}

/* --- batches --------------------------------------------------------------- */

size_t record_put_insns(const struct isa_insn *insns, size_t count, unsigned char *buf)
{
	unsigned char *p = buf;

	for (size_t k = 0; k < count; k++) {
		const struct isa_insn *in = &insns[k];

		*p++ = (unsigned char)in->op;
		*p++ = (unsigned char)(in->reg < 0 ? 0xff : in->reg);
		*p++ = in->src.is_register;
		le_put64(p, (uint64_t)in->src.value);
		le_put64(p + 8, (uint64_t)in->cell);
		p += 16;
	}
	return (size_t)(p - buf);
}

/* True when in is an instruction the parser could have made. */
static bool insn_valid(const struct isa_insn *in, unsigned reg_byte)
{
	bool writes_cell = in->op == ISA_WRITE;
	bool register_src = in->op == ISA_MOV || in->op == ISA_ADD || in->op == ISA_SUB ||
			    in->op == ISA_MUL || in->op == ISA_DIV || in->op == ISA_WRITE;

	if (in->op > ISA_WRITE)
		return false;
	if (writes_cell ? reg_byte != 0xff : reg_byte >= ISA_REGISTERS)
		return false;
	if (in->src.is_register && (!register_src || in->src.value < 0 ||
				    in->src.value >= ISA_REGISTERS))
		return false;
	return (in->op != ISA_READ && in->op != ISA_WRITE) || in->cell >= 0;
}

int record_get_insns(const struct record *r, struct isa_insn *out, size_t max,
		     size_t *count)
{
	const unsigned char *p = r->data.data;
	size_t n = r->data.len / RECORD_INSN_BYTES;

	/* The length is checked whole, so each instruction reads its bytes
	 * without a bound check of its own. */
	if (r->kind != RECORD_BATCH || r->data.len % RECORD_INSN_BYTES || n > max)
		return -EBADMSG;
	for (size_t k = 0; k < n; k++, p += RECORD_INSN_BYTES) {
		struct isa_insn *in = &out[k];
		unsigned op = p[0], reg = p[1], is_reg = p[2];

		in->op = (enum isa_op)op;
		in->reg = reg == 0xff ? -1 : (int)reg;
		in->src.is_register = is_reg == 1;
		in->src.value = (int64_t)le_get64(p + 3);
		in->cell = (int64_t)le_get64(p + 11);
		in->line = (unsigned)k + 1;
		if (is_reg > 1 || op > ISA_WRITE || !insn_valid(in, reg))
			return -EBADMSG;
	}
	*count = n;
	return 0;
}

/* --- readable form ----------------------------------------------------------- */

#define QUOTE_BYTES 200

static void quote(struct text *t, const struct record_bytes *b)
{
	const unsigned char *p = b->data;
	size_t n = b->len < QUOTE_BYTES ? b->len : QUOTE_BYTES;

	text_append(t, "\"", 1);
	for (size_t k = 0; k < n; k++) {
		if (p[k] == '"' || p[k] == '\\')
			text_printf(t, "\\%c", p[k]);
		else if (p[k] == '\n')
			text_append(t, "\\n", 2);
		else if (p[k] < 0x20 || p[k] >= 0x7f)
			text_printf(t, "\\x%02x", p[k]);
		else
			text_append(t, (const char *)&p[k], 1);
	}
	text_append(t, "\"", 1);
	if (n < b->len)
		text_printf(t, "...(%zu bytes)", b->len);
}

static void format_batch(struct text *t, const struct record *r)
{
	struct isa_insn in[ISA_MAX_BATCH_LINES];
	char line[64];
	size_t n;

	if (record_get_insns(r, in, ISA_MAX_BATCH_LINES, &n)) {
		text_printf(t, " (damaged: %zu bytes)", r->data.len);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		isa_format(&in[k], line, sizeof(line));
		text_printf(t, "%s%s", k ? "; " : " ", line);
	}
}

static void format_ticket_flags(struct text *t, const struct record *r)
{
	text_printf(t, " %s", r->flags & RECORD_TICKET_POSIX ? "posix" : "flock");
	if (r->kind == RECORD_TICKET_LOCK || r->kind == RECORD_TICKET_HELD)
		text_printf(t, " %s", r->flags & RECORD_TICKET_EXCLUSIVE ? "exclusive" : "shared");
	if (r->flags & RECORD_TICKET_WAIT)
		text_printf(t, " wait");
	if (r->kind == RECORD_TICKET_HELD)
		text_printf(t, " %s", r->flags & RECORD_TICKET_GRANTED ? "granted" : "queued");
}

static void format_owner(struct text *t, const struct record *r)
{
	if (r->uid == RECORD_OWNER_DAEMON && r->gid == RECORD_OWNER_DAEMON)
		text_printf(t, " owner daemon");
	else
		text_printf(t, " owner %u:%u", (unsigned)r->uid, (unsigned)r->gid);
}

static void format_fields(struct text *t, const struct record *r)
{
	for (const char *f = layout[r->kind]; *f; f++) {
		switch (*f) {
		case 'n': text_append(t, " ", 1); quote(t, &r->name); break;
		case 't': text_append(t, " to ", 4); quote(t, &r->target); break;
		case 'm': text_printf(t, " mode %04o", (unsigned)r->mode); break;
		case 'o': format_owner(t, r); break;
		case 'd': text_append(t, " ", 1); quote(t, &r->data); break;
		case 'u': text_printf(t, " %llu", (unsigned long long)r->u); break;
		case 'v': text_printf(t, " %llu", (unsigned long long)r->v); break;
		case 'q': text_printf(t, " #%llu", (unsigned long long)r->queue); break;
		case 'w': text_printf(t, " ticket %llu", (unsigned long long)r->ticket); break;
		case 'f': format_ticket_flags(t, r); break;
		case 'i': text_printf(t, " %lld", (long long)r->i); break;
		case 'j': text_printf(t, " %lld", (long long)r->j); break;
		case 'h':
			text_append(t, " ", 1);
			for (int k = 0; k < RECORD_HASH_BYTES; k++)
				text_printf(t, "%02x", r->hash[k]);
			break;
		}
	}
}

int record_format(const struct record *r, char *buf, size_t size)
{
	char small[512];
	struct text t = TEXT_ON_STACK(small);
	time_t secs = (time_t)(r->time_ns / 1000000000);
	struct tm tm;
	int n;

	if (r->time_ns && localtime_r(&secs, &tm))
		text_printf(&t, "%04d-%02d-%02d %02d:%02d:%02d.%03d ", tm.tm_year + 1900,
			    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			    (int)(r->time_ns / 1000000 % 1000));
	text_printf(&t, "session %llu seq %llu", (unsigned long long)r->session,
		    (unsigned long long)r->seq);
	if (r->pid)
		text_printf(&t, " pid %u", r->pid);
	text_printf(&t, " %s", record_kind_name(r->kind));
	if (r->kind == RECORD_BATCH)
		format_batch(&t, r);
	else if (kind_valid((int)r->kind))
		format_fields(&t, r);
	n = snprintf(buf, size, "%s", t.oom ? "(out of memory)" : t.buf);
	text_free(&t);
	return n;
}
