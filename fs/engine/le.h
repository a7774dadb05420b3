/* le.h - little-endian integers in byte buffers, the byte order of every
 * record, journal header and snapshot blob, whatever the host's.
 */
#ifndef RWFS_LE_H
#define RWFS_LE_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline void le_put32(void *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void le_put64(void *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static inline uint32_t le_get32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t le_get64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

#endif
