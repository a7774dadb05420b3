/* fuzz_etcd_frame.c - libFuzzer harness of the etcd log's frame decoder
 * (the values a mount reads back from etcd are untrusted): any bytes are
 * either refused, or every record they hold is visited in order, and the
 * frame built again from those records is exactly the same bytes.  Each
 * record then goes through the record decoder as a mount's apply would.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_frame.h"
#include "record.h"

struct rebuild {
	unsigned char *buf;
	size_t off;
	uint32_t next;
};

static void visit(void *arg, uint32_t k, const void *rec, size_t len)
{
	struct rebuild *b = arg;
	struct record r;

	if (k != b->next++)
		abort();
	b->off += etcd_frame_put_record(b->buf + b->off, rec, len);
	record_decode(rec, len, &r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rebuild b = { malloc(size + ETCD_FRAME_HEADER), ETCD_FRAME_HEADER, 0 };
	uint64_t proposer, batch;
	int count;

	if (!b.buf)
		return 0;
	count = etcd_frame_each(data, size, &proposer, &batch, visit, &b);
	if (count >= 0) {
		etcd_frame_put_header(b.buf, proposer, batch, (uint32_t)count);
		if ((uint32_t)count != b.next || b.off != size || memcmp(b.buf, data, size))
			abort();
	}
	free(b.buf);
	return 0;
}
