/* shop_config.h - the shop's configuration files: the one loop that reads
 * them line by line (the users file, shop_users.c, and the inventory CSV),
 * the inventory CSV itself, and the demo stock.
 *
 * Configuration is read at start, before the state is served; nothing here
 * keeps state or takes a lock.
 */
#ifndef RWFS_SHOP_CONFIG_H
#define RWFS_SHOP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "shop.h"

/* Called for each non-blank line of a configuration file, without its
 * newline (and a \r before it) and without blanks at either end; lineno
 * counts from 1.  Returns 0 or -errno (-EINVAL with its own message). */
typedef int (*shop_config_line_fn)(void *arg, unsigned lineno, const char *line, size_t len);

/* Reads the file at path, calling fn for each line until one refuses.
 * Returns 0, fn's -errno, or the -errno of opening or reading (-ENOENT,
 * -EISDIR, ...) with "PATH: strerror" in msg. */
int shop_config_read(const char *path, shop_config_line_fn fn, void *arg, char *msg,
		     size_t size);

/* Writes "PATH:LINE: what" into msg (when size > 0).  Returns -EINVAL. */
int shop_config_error(char *msg, size_t size, const char *path, unsigned lineno,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A product of the inventory, for the caller to seed the stock with. */
struct shop_product {
	int64_t upc;
	int64_t count;
	char name[SHOP_MAX_NAME + 1];
};

/* The demo stock, used when no file is given: 1001 apple 10, 1002 banana
 * 20, 1003 cherry 5. */
#define SHOP_DEMO_PRODUCTS 3
extern const struct shop_product shop_demo_products[SHOP_DEMO_PRODUCTS];

/* Parses a CSV inventory (upc,name,count; an optional header line) into a
 * malloc'd array *products of *count entries, in file order, that the
 * caller frees (NULL when there are none).  Blank lines are skipped; blanks
 * around fields are not part of them.  Fields may be quoted as RFC 4180
 * has it ("a, b" is a, b; "say ""hi""" is say "hi"; no line breaks inside
 * a field).  The first non-blank line is the header when its first
 * field is not an integer.  upc: 1..INT64_MAX; name: shop_valid_product_name;
 * count: 0..INT64_MAX; at most SHOP_MAX_PRODUCTS rows.  On error returns
 * -EINVAL with "FILE:LINE: what" in msg (a duplicate upc: the first line
 * that repeats one), or the -errno of opening or reading; *products is
 * NULL and *count 0 then. */
int shop_config_parse_inventory(const char *path, struct shop_product **products,
				size_t *count, char *msg, size_t size);

#endif
