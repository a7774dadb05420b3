/* etcd_frame.c - frames of records in the etcd log.  See etcd_frame.h. */
#include <errno.h>
#include <string.h>

#include "../engine/le.h"
#include "etcd_frame.h"

#define MAGIC "rwf1"

void etcd_frame_put_header(unsigned char *f, uint64_t proposer, uint64_t batch, uint32_t count)
{
	memcpy(f, MAGIC, 4);
	le_put64(f + 4, proposer);
	le_put64(f + 12, batch);
	le_put32(f + 20, count);
}

size_t etcd_frame_put_record(unsigned char *f, const void *rec, size_t len)
{
	le_put32(f, (uint32_t)len);
	memcpy(f + 4, rec, len);
	return 4 + len;
}

/* Whether count records fill the bytes after the header exactly. */
static int check(const unsigned char *f, size_t len, uint32_t count)
{
	size_t off = ETCD_FRAME_HEADER;

	for (uint32_t k = 0; k < count; k++) {
		uint32_t n;

		if (len - off < 4)
			return -EBADMSG;
		n = le_get32(f + off);
		if (n > len - off - 4)
			return -EBADMSG;
		off += 4 + (size_t)n;
	}
	return off == len ? 0 : -EBADMSG;
}

int etcd_frame_each(const void *frame, size_t len, uint64_t *proposer, uint64_t *batch,
		    etcd_frame_fn fn, void *arg)
{
	const unsigned char *f = frame;
	size_t off = ETCD_FRAME_HEADER;
	uint32_t count;

	if (len < ETCD_FRAME_HEADER || memcmp(f, MAGIC, 4) != 0)
		return -EBADMSG;
	count = le_get32(f + 20);
	if (check(f, len, count))
		return -EBADMSG;
	*proposer = le_get64(f + 4);
	*batch = le_get64(f + 12);
	for (uint32_t k = 0; k < count; k++) {
		uint32_t n = le_get32(f + off);

		fn(arg, k, f + off + 4, n);
		off += 4 + (size_t)n;
	}
	return (int)count;
}
