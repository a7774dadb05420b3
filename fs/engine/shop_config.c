/* shop_config.c - reading the shop's configuration files, and the
 * inventory CSV.  See shop_config.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "isa.h"
#include "shop_config.h"

#define SHOWN_FIELD SHOP_MAX_NAME /* bytes of a bad field quoted back */

const struct shop_product shop_demo_products[SHOP_DEMO_PRODUCTS] = {
	{ 1001, 10, "apple" },
	{ 1002, 20, "banana" },
	{ 1003, 5, "cherry" },
};

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && isblank((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && isblank((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* "PATH: strerror" into msg; returns ret. */
static int file_error(char *msg, size_t size, const char *path, int ret)
{
	if (msg && size > 0)
		snprintf(msg, size, "%s: %s", path, strerror(-ret));
	return ret;
}

int shop_config_error(char *msg, size_t size, const char *path, unsigned lineno,
		      const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!msg || size == 0)
		return -EINVAL;
	n = snprintf(msg, size, "%s:%u: ", path, lineno);
	if (n >= 0 && (size_t)n < size) {
		va_start(ap, fmt);
		vsnprintf(msg + n, size - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A directory is refused here, where the reason is clear, rather than by
 * the first read. */
static int open_config(const char *path, FILE **f)
{
	struct stat st;
	int ret = 0;

	*f = fopen(path, "re");
	if (!*f)
		return -errno;
	if (fstat(fileno(*f), &st) == 0 && S_ISDIR(st.st_mode))
		ret = -EISDIR;
	if (ret) {
		fclose(*f);
		*f = NULL;
	}
	return ret;
}

int shop_config_read(const char *path, shop_config_line_fn fn, void *arg, char *msg,
		     size_t size)
{
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	ssize_t n;
	FILE *f;
	int ret = open_config(path, &f);

	if (ret)
		return file_error(msg, size, path, ret);
	while (!ret && (n = getline(&line, &cap, f)) >= 0) {
		const char *s = line;
		size_t len = (size_t)n;

		lineno++;
		if (len > 0 && s[len - 1] == '\n')
			len--;
		if (len > 0 && s[len - 1] == '\r')
			len--;
		trim(&s, &len);
		if (len > 0)
			ret = fn(arg, lineno, s, len);
	}
	if (!ret && ferror(f))
		ret = file_error(msg, size, path, errno ? -errno : -EIO);
	free(line);
	fclose(f);
	return ret;
}

/* --- the inventory CSV -------------------------------------------------- */

struct csv_row {
	int64_t upc;
	unsigned line;
};

struct csv {
	const char *path;
	bool started;          /* a line was seen: the header is behind */
	struct csv_row *rows;  /* room for SHOP_MAX_PRODUCTS */
	struct shop_product *products;
	size_t count, cap;
	char *msg;
	size_t size;
};

struct field {
	const char *text;
	size_t len;
};

/* Digits only, within int64: a count, a UPC.  The number syntax is the
 * instruction language's, without a sign. */
static int parse_unsigned(const struct field *f, int64_t *out)
{
	if (f->len == 0 || f->text[0] == '+' || f->text[0] == '-')
		return -EINVAL;
	return isa_parse_value(f->text, f->len, out);
}

/* An integer out of range still looks like one: not a header. */
static bool looks_numeric(const struct field *f)
{
	int64_t v;

	return isa_parse_value(f->text, f->len, &v) != -EINVAL;
}

/* Reads one field of a CSV line (RFC 4180) at *s into f, trimmed of
 * blanks, and moves *s past it and its comma.  A field that starts with a
 * quote runs to the closing quote, commas included, and "" in it is one
 * quote: its text is copied, unquoted, to *room, which moves past it.  A
 * quote inside an unquoted field is part of it.  Returns 1 when a comma
 * ends the field (another follows), 0 at the end of the line, or -EINVAL
 * when a quoted field is not closed or has more than blanks after its
 * closing quote. */
static int next_field(const char **s, const char *end, struct field *f, char **room)
{
	const char *p = *s, *stop;
	size_t n = 0;

	while (p < end && isblank((unsigned char)*p))
		p++;
	if (p == end || *p != '"') {
		stop = memchr(p, ',', (size_t)(end - p));
		*f = (struct field){ p, (size_t)((stop ? stop : end) - p) };
		trim(&f->text, &f->len);
		*s = stop ? stop + 1 : end;
		return stop != NULL;
	}
	for (p++; p < end && !(*p == '"' && (p + 1 == end || p[1] != '"')); p++) {
		(*room)[n++] = *p;
		p += *p == '"'; /* the second quote of "" */
	}
	if (p == end)
		return -EINVAL;
	*f = (struct field){ *room, n };
	*room += n;
	for (p++; p < end && isblank((unsigned char)*p); p++)
		;
	if (p < end && *p != ',')
		return -EINVAL;
	*s = p < end ? p + 1 : end;
	return p < end;
}

/* Splits a CSV line into its fields, the first max of them into f (the
 * others are counted only), the text of quoted ones unquoted into room, as
 * long as the line.  Returns the number of fields, or -EINVAL for bad
 * quoting. */
static int split_fields(const char *s, size_t len, struct field *f, int max, char *room)
{
	const char *end = s + len;
	struct field extra;
	int n = 0, more;

	do {
		more = next_field(&s, end, n < max ? &f[n] : &extra, &room);
		if (more < 0)
			return more;
		n++;
	} while (more);
	return n;
}

static int bad_field(struct csv *c, unsigned lineno, const char *what,
		     const struct field *f, const char *rule)
{
	int shown = (int)(f->len > SHOWN_FIELD ? SHOWN_FIELD : f->len);

	return shop_config_error(c->msg, c->size, c->path, lineno, "bad %s '%.*s' (%s)",
				 what, shown, f->text, rule);
}

static int add_product(struct csv *c, const struct shop_product *p, unsigned lineno)
{
	if (c->count == SHOP_MAX_PRODUCTS)
		return shop_config_error(c->msg, c->size, c->path, lineno,
					 "more than %d products", SHOP_MAX_PRODUCTS);
	if (c->count == c->cap) {
		size_t cap = 2 * c->cap + 16;
		struct shop_product *grown = realloc(c->products, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		c->products = grown;
		c->cap = cap;
	}
	c->rows[c->count] = (struct csv_row){ p->upc, lineno };
	c->products[c->count++] = *p;
	return 0;
}

/* Checks the three fields of a row and adds its product. */
static int csv_product(struct csv *c, unsigned lineno, const struct field f[3],
		       struct shop_product *p)
{
	if (parse_unsigned(&f[0], &p->upc) || p->upc == 0)
		return bad_field(c, lineno, "upc", &f[0], "a positive integer");
	if (!shop_valid_product_name(f[1].text, f[1].len))
		return bad_field(c, lineno, "name", &f[1], "1-64 bytes, no control characters");
	if (parse_unsigned(&f[2], &p->count))
		return bad_field(c, lineno, "count", &f[2],
				 "an integer 0..9223372036854775807");
	memcpy(p->name, f[1].text, f[1].len);
	return add_product(c, p, lineno);
}

static int csv_line(void *arg, unsigned lineno, const char *s, size_t len)
{
	struct csv *c = arg;
	struct shop_product p = { 0 };
	struct field f[3];
	bool first = !c->started;
	char *room = malloc(len);
	int n, ret;

	if (!room)
		return -ENOMEM;
	c->started = true;
	n = split_fields(s, len, f, 3, room);
	if (n < 0)
		ret = shop_config_error(c->msg, c->size, c->path, lineno,
					"a quoted field must end with a quote before the "
					"comma or the end of the line");
	else if (first && !looks_numeric(&f[0]))
		ret = 0; /* the header */
	else if (n != 3)
		ret = shop_config_error(c->msg, c->size, c->path, lineno,
					"want 3 fields (upc,name,count), got %d", n);
	else
		ret = csv_product(c, lineno, f, &p);
	free(room);
	return ret;
}

static int compare_rows(const void *a, const void *b)
{
	const struct csv_row *x = a, *y = b;

	if (x->upc != y->upc)
		return x->upc < y->upc ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Reports the first line (in file order) that repeats an earlier upc. */
static int csv_duplicates(struct csv *c)
{
	const struct csv_row *worst = NULL, *first = NULL;
	size_t start = 0;

	qsort(c->rows, c->count, sizeof(*c->rows), compare_rows);
	for (size_t i = 1; i < c->count; i++) {
		if (c->rows[i].upc != c->rows[start].upc) {
			start = i;
			continue;
		}
		if (!worst || c->rows[i].line < worst->line) {
			worst = &c->rows[i];
			first = &c->rows[start];
		}
	}
	if (!worst)
		return 0;
	return shop_config_error(c->msg, c->size, c->path, worst->line,
				 "duplicate upc %lld (first on line %u)", (long long)worst->upc,
				 first->line);
}

int shop_config_parse_inventory(const char *path, struct shop_product **products,
				size_t *count, char *msg, size_t size)
{
	struct csv c = { .path = path, .msg = msg, .size = size };
	int ret;

	*products = NULL;
	*count = 0;
	c.rows = malloc(SHOP_MAX_PRODUCTS * sizeof(*c.rows));
	ret = c.rows ? shop_config_read(path, csv_line, &c, msg, size) : -ENOMEM;
	if (!ret)
		ret = csv_duplicates(&c);
	if (ret == -ENOMEM)
		file_error(msg, size, path, ret);
	if (ret) {
		free(c.products);
	} else {
		*products = c.products;
		*count = c.count;
	}
	free(c.rows);
	return ret;
}
