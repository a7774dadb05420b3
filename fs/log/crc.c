/* crc.c - CRC-32 (zlib's) and CRC-32C.  See crc.h.
 *
 * CRC-32C by tables: table[0] is the classic byte-at-a-time table, the
 * register after eight shifts of a byte; table[k][b] is byte b followed by
 * k zero bytes, so the eight bytes of a word are looked up independently
 * and xor'ed together.  The tables are a pure function of the polynomial,
 * built once before main: a check on every call would cost a short record
 * a quarter of its CRC.
 */
#include <stdbool.h>
#include <zlib.h>

#include "../engine/le.h"
#include "crc.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define CASTAGNOLI 0x82f63b78u /* reflected 0x1edc6f41 */

typedef uint32_t crc_tables[8][256];

static crc_tables castagnoli_tables;
static bool castagnoli_instruction;

static void build(crc_tables t, uint32_t polynomial)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t c = b;

		for (int bit = 0; bit < 8; bit++)
			c = (c >> 1) ^ (polynomial & (0u - (c & 1)));
		t[0][b] = c;
	}
	for (int k = 1; k < 8; k++)
		for (uint32_t b = 0; b < 256; b++)
			t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
}

__attribute__((constructor)) static void build_all(void)
{
	build(castagnoli_tables, CASTAGNOLI);
#if defined(__x86_64__)
	__builtin_cpu_init(); /* constructors may run before the compiler's own */
	castagnoli_instruction = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t by_tables(crc_tables t, const unsigned char *p, size_t len)
{
	uint32_t crc = 0xffffffffu;

	for (; len >= 8; p += 8, len -= 8) {
		uint32_t lo = le_get32(p) ^ crc, hi = le_get32(p + 4);

		crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^
		      t[4][lo >> 24] ^ t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
		      t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
	}
	for (; len; p++, len--)
		crc = t[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t by_instruction(const unsigned char *p,
								 size_t len)
{
	uint64_t crc = 0xffffffffu;

	for (; len >= 8; p += 8, len -= 8)
		crc = _mm_crc32_u64(crc, le_get64(p));
	for (; len; p++, len--)
		crc = _mm_crc32_u8((uint32_t)crc, *p);
	return ~(uint32_t)crc;
}
#endif

uint32_t crc_ieee(const void *buf, size_t len)
{
	return (uint32_t)crc32_z(0, buf, len);
}

uint32_t crc_castagnoli_tables(const void *buf, size_t len)
{
	return by_tables(castagnoli_tables, buf, len);
}

uint32_t crc_castagnoli(const void *buf, size_t len)
{
#if defined(__x86_64__)
	if (castagnoli_instruction)
		return by_instruction(buf, len);
#endif
	return by_tables(castagnoli_tables, buf, len);
}
