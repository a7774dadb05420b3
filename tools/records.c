/* records.c - prints the records of record files (what `consumer --records`
 * writes) and how many were read and how many were damaged.  The format
 * is in common.h and docs/TOOLS.md.
 */
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

void usage(FILE *out)
{
	fprintf(out,
		"usage: records [OPTION...] FILE...\n"
		"\n"
		"Prints the payload of every record in the record files FILE (as\n"
		"written by consumer --records), one line each, then a summary on stderr:\n"
		"\n"
		"  FILE: N records read, M damaged\n"
		"  total: N records read, M damaged          (for several files)\n"
		"\n"
		"A damaged record (torn at the end of the file, a length over the limit,\n"
		"a checksum mismatch) is reported with its offset, and reading that file\n"
		"stops there: the bytes after it are not read (there is no resync).\n"
		"\n"
		"  -q, --quiet    print only the summary and the damage\n"
		"  -h, --help     this text\n"
		"  -V, --version  the version\n"
		"\n"
		"Exit status: 0 when every record of every file is good, 1 when one is\n"
		"damaged or a file cannot be read or is not a record file, 2 on bad\n"
		"usage.\n");
}

struct totals {
	unsigned long long good, damaged, unreadable;
};

/* Reads one file; adds to t.  Returns 0 when all its records are good. */
static int read_file(const char *path, bool quiet, struct totals *t)
{
	unsigned long long good = 0, damaged = 0;
	struct record_reader r;
	const char *why = NULL;
	enum record_status s;
	struct stat st;
	FILE *f;
	int ret;

	f = fopen(path, "rb");
	if (!f) {
		warnmsg("cannot open '%s': %s", path, strerror(errno));
		goto out_unreadable;
	}
	if (fstat(fileno(f), &st) != 0) {
		warnmsg("cannot read '%s': %s", path, strerror(errno));
		goto out_close;
	}
	if (S_ISDIR(st.st_mode)) {
		warnmsg("cannot read '%s': %s", path, strerror(EISDIR));
		goto out_close;
	}
	ret = record_reader_init(&r, f, &why);
	if (ret < 0)
		warnmsg("cannot read '%s': %s", path, strerror(errno));
	else if (ret > 0)
		warnmsg("'%s' is %s", path, why);
	if (ret != 0)
		goto out_close;

	while ((s = record_read(&r, &why)) == RECORD_OK) {
		good++;
		if (!quiet) {
			fwrite(r.payload, 1, r.len, stdout);
			putchar('\n');
		}
	}
	if (s == RECORD_IO_ERROR) {
		warnmsg("cannot read '%s' at offset %llu: %s", path,
			(unsigned long long)r.offset, strerror(errno));
		damaged++;
	} else if (s == RECORD_DAMAGED) {
		warnmsg("'%s': damaged record at offset %llu: %s; the %llu bytes from there "
			"to the end are not read",
			path, (unsigned long long)r.offset, why,
			(unsigned long long)st.st_size - r.offset);
		damaged++;
	}
	record_reader_release(&r);
	fclose(f);
	fflush(stdout);
	fprintf(stderr, "%s: %llu records read, %llu damaged\n", path, good, damaged);
	t->good += good;
	t->damaged += damaged;
	return damaged ? -1 : 0;

out_close:
	fclose(f);
out_unreadable:
	t->unreadable++;
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct totals t = { 0 };
	bool quiet = false;
	int opt, status = 0;

	prog = "records";
	while ((opt = getopt_long(argc, argv, "+:qhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'q': quiet = true; break;
		case 'h': usage(stdout); close_stdout(); return 0;
		case 'V': print_version(); return 0;
		default: bad_option(opt, argv);
		}
	}
	if (optind == argc)
		bad_usage("no FILE given");

	for (int i = optind; i < argc; i++) {
		if (read_file(argv[i], quiet, &t) != 0)
			status = 1;
	}
	if (argc - optind > 1) {
		fprintf(stderr, "total: %llu records read, %llu damaged", t.good, t.damaged);
		if (t.unreadable)
			fprintf(stderr, ", %llu %s unreadable", t.unreadable,
				t.unreadable == 1 ? "file" : "files");
		fputc('\n', stderr);
	}
	close_stdout();
	return status;
}
