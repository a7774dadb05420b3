/* test_crc.c - unit tests of fs/log/crc.h: the check values of the
 * standards; CRC-32 equal to zlib's crc32, and CRC-32C by the instruction
 * equal to CRC-32C by tables, for every length around the eight-byte
 * steps, at every alignment, and for a long buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "crc.h"

static void test_check_value(void **state)
{
	(void)state;
	assert_int_equal(crc_ieee("123456789", 9), 0xcbf43926u);
	assert_int_equal(crc_ieee("", 0), 0);
	assert_int_equal(crc_castagnoli("123456789", 9), 0xe3069283u);
	assert_int_equal(crc_castagnoli_tables("123456789", 9), 0xe3069283u);
	assert_int_equal(crc_castagnoli("", 0), 0);
}

static void test_same_as_the_reference(void **state)
{
	unsigned char buf[300 + 8];

	(void)state;
	srand(12345);
	for (size_t k = 0; k < sizeof(buf); k++)
		buf[k] = (unsigned char)rand();
	for (size_t start = 0; start < 8; start++)
		for (size_t len = 0; len <= 300; len++) {
			assert_int_equal(crc_ieee(buf + start, len),
					 (uint32_t)crc32(0, buf + start, (uInt)len));
			assert_int_equal(crc_castagnoli(buf + start, len),
					 crc_castagnoli_tables(buf + start, len));
		}
}

static void test_long_buffer(void **state)
{
	size_t len = 1 << 20;
	unsigned char *buf = malloc(len);

	(void)state;
	assert_non_null(buf);
	for (size_t k = 0; k < len; k++)
		buf[k] = (unsigned char)(k * 2654435761u >> 24);
	assert_int_equal(crc_ieee(buf, len), (uint32_t)crc32(0, buf, (uInt)len));
	assert_int_equal(crc_castagnoli(buf, len), crc_castagnoli_tables(buf, len));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_value),
		cmocka_unit_test(test_same_as_the_reference),
		cmocka_unit_test(test_long_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
