/* main.c - rwfs: the command line, mount, the multi-threaded session loop,
 * signals and a clean shutdown.
 *
 * libfuse conventions: background by default, -f foreground (then the
 * event log goes to stdout; in the background to syslog or --log=FILE),
 * -d debug, -o mount options, among them every option of rwfs's own, so
 * that mount(8) and fstab can start it.  Ctrl-C, SIGTERM and
 * `fusermount3 -u` all end the loop the same way and unmount.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "engine/queues.h"
#include "engine/record.h"
#include "engine/state.h"
#include "log/etcd.h"
#include "log/file.h"
#include "fs.h"
#include "ops.h"


#define DEFAULT_STATE "rwfs.state"
#define ETCD_COMPACT_BYTES (8u << 20) /* of records, before a snapshot in etcd */
/* The session loop's worker threads, unless -o max_threads says.  A
 * request holds its thread only while it works (waits are parked, see
 * wait.h), so one thread per CPU serves best: more only queue on the CPUs
 * (make bench's loop part, 2 CPUs: 2 threads beat 4 and libfuse's 10 at
 * 1 and at 4 clients, on two machines).  At least 2, so that one request
 * that does hold its thread for long (a login's crypt) leaves another.
 * A write under --sync=always holds its thread through the fdatasync that
 * the writers waiting together share, and with etcd through the put they
 * share: there more threads make the group. */
#define THREADS_PER_CPU 1
#define MIN_THREADS 2
#define SYNC_ALWAYS_THREADS 10
#define ETCD_THREADS 64
#define SOURCE_NAME "rwfs" /* the first field of an fstab line, which mount passes on */
#define BUSY_TRIES 40       /* a busy state directory is asked again this often, */
#define BUSY_WAIT_US 50000  /* this long apart: 2 s in all */
#define MAX_ARGUMENTS 3     /* words that are not options: [rwfs] MOUNTPOINT, one stray */

struct options {
	int quiet;
	int no_default_permissions;
	bool allow_other;         /* libfuse's -o allow_other was given */
	bool max_threads_given;   /* and its -o max_threads */
	bool default_permissions; /* and its -o default_permissions */
	int recover;
	int dump;
	char *state;              /* the values as given; numbers are checked by parse_numbers */
	char *sync;
	char *log;
	char *memory_arg;
	char *compact_size_arg;
	char *queue_capacity_arg;
	char *users;
	char *inventory;
	char *etcd;               /* the cluster's endpoints: the state is kept there */
	char *etcd_prefix;
	char *etcd_timeout_arg;
	char *lease_arg;
	char *reads;
	unsigned memory;
	unsigned etcd_timeout;    /* seconds */
	unsigned lease;           /* seconds */
	unsigned long compact_size;
	unsigned queue_capacity;
	enum log_file_sync sync_mode;
	char *unknown;                   /* the first option nobody knows */
	char *words[MAX_ARGUMENTS];      /* the arguments that are not options */
	int nwords;
};

/* The options of rwfs itself.  Each works three ways: --NAME=VALUE,
 * --NAME VALUE and -o NAME=VALUE (a flag: --NAME and -o NAME), so that an
 * fstab line or mount -t fuse.rwfs can give any of them. */
struct rwfs_option {
	const char *name;
	size_t offset;    /* a char * for a value, an int for a flag */
	bool takes_value;
};

static const struct rwfs_option rwfs_options[] = {
	{ "state", offsetof(struct options, state), true },
	{ "sync", offsetof(struct options, sync), true },
	{ "log", offsetof(struct options, log), true },
	{ "memory", offsetof(struct options, memory_arg), true },
	{ "compact-size", offsetof(struct options, compact_size_arg), true },
	{ "queue-capacity", offsetof(struct options, queue_capacity_arg), true },
	{ "users", offsetof(struct options, users), true },
	{ "inventory", offsetof(struct options, inventory), true },
	{ "etcd", offsetof(struct options, etcd), true },
	{ "etcd-prefix", offsetof(struct options, etcd_prefix), true },
	{ "etcd-timeout", offsetof(struct options, etcd_timeout_arg), true },
	{ "lease", offsetof(struct options, lease_arg), true },
	{ "reads", offsetof(struct options, reads), true },
	{ "recover", offsetof(struct options, recover), false },
	{ "dump", offsetof(struct options, dump), false },
	{ "quiet", offsetof(struct options, quiet), false },
	{ "no-default-permissions", offsetof(struct options, no_default_permissions), false },
};

#define RWFS_OPTION_COUNT (sizeof(rwfs_options) / sizeof(rwfs_options[0]))

static const char *const sync_names[] = {
	[LOG_SYNC_ALWAYS] = "always",
	[LOG_SYNC_EVERYSEC] = "everysec",
	[LOG_SYNC_NO] = "no",
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [options] [rwfs] MOUNTPOINT\n"
		"\n"
		"Shared memory as files under MOUNTPOINT: registers A-Z, memory\n"
		"cells, an instruction file, producer/consumer queues, a shop and\n"
		"shared files (MOUNTPOINT/files/), all journaled in the state\n"
		"directory.  flock and fcntl locks on every file are granted by the\n"
		"daemon, fairly, in arrival order.  The word rwfs before the mount\n"
		"point is the source that mount(8) passes on; it may be left out.\n"
		"\n"
		"rwfs options (--NAME=VALUE, --NAME VALUE or -o NAME=VALUE; a flag as\n"
		"--NAME or -o NAME):\n"
		"    --state=DIR            state directory (default ./%s, made on first\n"
		"                           use, mode 0700, as is a DIR given here)\n"
		"    --sync=MODE            always: on disk before each write returns;\n"
		"                           everysec (default): on disk within a second;\n"
		"                           no: when the kernel flushes\n"
		"    --compact-size=BYTES   compact the journal past this size (default %u)\n"
		"    --recover              start from the last good record of a damaged\n"
		"                           journal (a copy of it is kept)\n"
		"    --dump                 print the state directory's records and exit\n"
		"    --memory=N             number of memory cells (default %d, at most %u)\n"
		"    --queue-capacity=N     items a new queue holds (default %d, at most %d;\n"
		"                           0: the default)\n"
		"    --users=FILE           the shop's users, USER:HASH lines (crypt(3)\n"
		"                           hashes); default: the demo users\n"
		"    --inventory=FILE       the shop's first stock, CSV upc,name,count;\n"
		"                           used only while the state holds no stock\n"
		"    --log=FILE             append the event log to FILE (default: the\n"
		"                           console with -f, else syslog)\n"
		"    --quiet                no event log, and no start line\n"
		"    --no-default-permissions  with -o allow_other: the kernel does not\n"
		"                           check modes, every user reads and writes every\n"
		"                           queue and file (owners still decide who may\n"
		"                           chmod, chown and remove)\n"
		"\n"
		"Owners: a queue or file belongs to the user who made it, with the mode\n"
		"asked (less the umask); queues/ and files/ are sticky (1777), as /tmp.\n"
		"-o allow_other implies -o default_permissions.  Sealing a queue is\n"
		"taking its write bits away (chmod a-w).\n"
		"\n"
		"Several hosts, one state (an etcd cluster instead of the state directory):\n"
		"    --etcd=URL,URL,...     the cluster's client URLs (http://HOST:2379,...)\n"
		"    --etcd-prefix=P        the prefix of rwfs's keys (default rwfs/)\n"
		"    --etcd-timeout=SECONDS an operation that gets no quorum fails then\n"
		"                           with ETIMEDOUT (default %u)\n"
		"    --lease=SECONDS        a dead mount's tickets and unread queue items\n"
		"                           are released this long after (default %u, >= 2)\n"
		"    --reads=MODE           linearizable (default): a read sees every write\n"
		"                           acknowledged on any host before it began;\n"
		"                           local: this mount's copy, no round trip\n"
		"                           (monotonic, sees this mount's own writes)\n"
		"\n"
		"Queues: stat shows each queue as 1048576 bytes (so that writers of one\n"
		"queue never wait for each other in the kernel); the bytes waiting are\n"
		"its attribute user.bytes and in MOUNTPOINT/stats. To seal, unseal or\n"
		"remove a queue while a writer waits on it, set an attribute of the\n"
		"directory: setfattr -n user.seal -v NAME MOUNTPOINT/queues (user.unseal,\n"
		"user.remove); chmod and rm of the queue itself wait for that writer.\n"
		"\n",
		prog, DEFAULT_STATE, LOG_FILE_DEFAULT_COMPACT_BYTES, STATE_DEFAULT_CELLS,
		STATE_MAX_CELLS, QUEUES_DEFAULT_CAPACITY, QUEUES_MAX_CAPACITY,
		LOG_ETCD_DEFAULT_TIMEOUT_MS / 1000, LOG_ETCD_DEFAULT_LEASE_S);
}

/* A mistake on the command line: one line, then exit status 2. */
static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("rwfs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (usage: rwfs [options] MOUNTPOINT; see rwfs --help)\n", stderr);
}

static const char *state_dir(const struct options *opts)
{
	return opts->state ? opts->state : DEFAULT_STATE;
}

/* The number option name was given (arg; NULL: not given, *out kept) as a
 * whole decimal number min..max and nothing else: "12abc" and "1k" are
 * refused, with one line.  0 or -1. */
static int number_option(const char *name, const char *arg, unsigned long long min,
			 unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (!arg)
		return 0;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (*arg < '0' || *arg > '9' || *end || errno || v < min || v > max) {
		fprintf(stderr, "rwfs: %s must be a whole number %llu..%llu, not '%s'\n", name, min,
			max, arg);
		return -1;
	}
	*out = v;
	return 0;
}

/* The numbers among the options; --queue-capacity=0 is the default. */
static int parse_numbers(struct options *o)
{
	unsigned long long memory = o->memory, compact = o->compact_size,
			   capacity = o->queue_capacity, timeout = LOG_ETCD_DEFAULT_TIMEOUT_MS / 1000,
			   lease = LOG_ETCD_DEFAULT_LEASE_S;

	if (number_option("--memory", o->memory_arg, 1, STATE_MAX_CELLS, &memory) ||
	    number_option("--compact-size", o->compact_size_arg, 1, ULONG_MAX, &compact) ||
	    number_option("--queue-capacity", o->queue_capacity_arg, 0, QUEUES_MAX_CAPACITY,
			  &capacity) ||
	    number_option("--etcd-timeout", o->etcd_timeout_arg, 1, 3600, &timeout) ||
	    number_option("--lease", o->lease_arg, 2, 3600, &lease))
		return -1;
	if (o->reads && strcmp(o->reads, "linearizable") != 0 && strcmp(o->reads, "local") != 0) {
		fprintf(stderr, "rwfs: --reads must be linearizable or local, not '%s'\n", o->reads);
		return -1;
	}
	o->etcd_timeout = (unsigned)timeout;
	o->lease = (unsigned)lease;
	if (capacity == 0)
		capacity = QUEUES_DEFAULT_CAPACITY;
	o->memory = (unsigned)memory;
	o->compact_size = (unsigned long)compact;
	o->queue_capacity = (unsigned)capacity;
	return 0;
}

static int parse_sync(const char *name, enum log_file_sync *out)
{
	for (size_t i = 0; i < sizeof(sync_names) / sizeof(sync_names[0]); i++) {
		if (strcmp(name, sync_names[i]) == 0) {
			*out = (enum log_file_sync)i;
			return 0;
		}
	}
	fprintf(stderr, "rwfs: --sync must be always, everysec or no, not '%s'\n", name);
	return -1;
}

/* Keeps libfuse's own options (-f, -d, -o allow_other...: libfuse checks
 * them), notes the first unknown long option (libfuse would take it for the
 * mount point) and takes the words that are not options away from libfuse,
 * which would complain of a second one in its own words. */
static int option_filter(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct options *opts = data;
	bool libfuses = strncmp(arg, "--", 2) != 0 || strcmp(arg, "--help") == 0 ||
			strcmp(arg, "--version") == 0;
	char **keep;

	(void)outargs;
	/* spelt as libfuse spells its own -o options, beside -o no-default-permissions */
	if (key == FUSE_OPT_KEY_OPT && strcmp(arg, "no_default_permissions") == 0) {
		opts->no_default_permissions = 1;
		return 0;
	}
	if (key == FUSE_OPT_KEY_OPT && libfuses) {
		opts->allow_other |= strcmp(arg, "allow_other") == 0;
		opts->max_threads_given |= strncmp(arg, "max_threads=", 12) == 0;
		opts->default_permissions |= strcmp(arg, "default_permissions") == 0;
		return 1;
	}
	if (key == FUSE_OPT_KEY_NONOPT)
		keep = opts->nwords < MAX_ARGUMENTS ? &opts->words[opts->nwords++] : NULL;
	else
		keep = opts->unknown ? NULL : &opts->unknown;
	if (keep && !(*keep = strdup(arg))) {
		fprintf(stderr, "rwfs: out of memory\n");
		return -1;
	}
	return 0;
}

/* The option of rwfs_options that a bare "--NAME" names, when it takes a
 * value, or NULL. */
static const struct rwfs_option *value_option(const char *arg)
{
	for (size_t i = 0; i < RWFS_OPTION_COUNT; i++) {
		if (rwfs_options[i].takes_value && strncmp(arg, "--", 2) == 0 &&
		    strcmp(arg + 2, rwfs_options[i].name) == 0)
			return &rwfs_options[i];
	}
	return NULL;
}

/* Copies argv into *out with every "--NAME VALUE" of a value option
 * joined into "--NAME=VALUE" (libfuse's parser knows only the joined
 * form; tools and habit give both).  0, or -1 with a line on stderr. */
static int join_values(int argc, char *argv[], struct fuse_args *out)
{
	bool options_end = false;
	char *joined;
	int ret;

	for (int i = 0; i < argc; i++) {
		const struct rwfs_option *opt = options_end ? NULL : value_option(argv[i]);

		options_end |= strcmp(argv[i], "--") == 0;
		if (!opt) {
			ret = fuse_opt_add_arg(out, argv[i]);
			/* -o's list is its own argument: never a --NAME to join */
			if (!ret && strcmp(argv[i], "-o") == 0 && i + 1 < argc)
				ret = fuse_opt_add_arg(out, argv[++i]);
		} else if (i + 1 == argc) {
			usage_error("a value is missing after %s", argv[i]);
			return -1;
		} else if (asprintf(&joined, "--%s=%s", opt->name, argv[i + 1]) < 0) {
			ret = -1;
		} else {
			ret = fuse_opt_add_arg(out, joined);
			free(joined);
			i++;
		}
		if (ret) {
			fprintf(stderr, "rwfs: out of memory\n");
			return -1;
		}
	}
	return 0;
}

/* The fuse_opt templates of rwfs_options, NULL-terminated; the caller frees
 * each templ and the array (free_spec).  NULL when out of memory. */
static struct fuse_opt *build_spec(void)
{
	struct fuse_opt *spec = calloc(2 * RWFS_OPTION_COUNT + 1, sizeof(*spec));
	size_t n = 0;

	if (!spec)
		return NULL;
	for (size_t i = 0; i < RWFS_OPTION_COUNT; i++) {
		const struct rwfs_option *o = &rwfs_options[i];
		const char *suffix = o->takes_value ? "=%s" : "";
		char *dashed, *plain;

		if (asprintf(&dashed, "--%s%s", o->name, suffix) < 0)
			break;
		if (asprintf(&plain, "%s%s", o->name, suffix) < 0) {
			free(dashed);
			break;
		}
		spec[n++] = (struct fuse_opt){ dashed, o->offset, 1 };
		spec[n++] = (struct fuse_opt){ plain, o->offset, 1 };
	}
	if (n == 2 * RWFS_OPTION_COUNT)
		return spec;
	while (n > 0)
		free((char *)spec[--n].templ);
	free(spec);
	return NULL;
}

static void free_spec(struct fuse_opt *spec)
{
	for (size_t i = 0; spec && spec[i].templ; i++)
		free((char *)spec[i].templ);
	free(spec);
}

static void free_options(struct options *opts)
{
	for (size_t i = 0; i < RWFS_OPTION_COUNT; i++) {
		if (rwfs_options[i].takes_value)
			free(*(char **)((char *)opts + rwfs_options[i].offset));
	}
	for (int i = 0; i < opts->nwords; i++)
		free(opts->words[i]);
	free(opts->unknown);
}

/* What libfuse says while it checks options, kept instead of printed, so
 * that a mistake is one line of rwfs's. */
static char fuse_complaint[256];

static void keep_complaint(enum fuse_log_level level, const char *fmt, va_list ap)
{
	size_t used = strlen(fuse_complaint);

	if (level <= FUSE_LOG_ERR)
		vsnprintf(fuse_complaint + used, sizeof(fuse_complaint) - used, fmt, ap);
}

/* Prints what libfuse kept as one line: "rwfs: unknown option(s): ...". */
static void report_complaint(void)
{
	const char *text = fuse_complaint;

	if (strncmp(text, "fuse: ", 6) == 0)
		text += 6;
	fuse_complaint[strcspn(fuse_complaint, "\n")] = '\0';
	fprintf(stderr, "rwfs: %s (see rwfs --help)\n", *text ? text : "bad option");
}

/* Checks libfuse's session options (-o allow_other, -o foo...) by making
 * a session that is never mounted: a typo is reported before the state
 * directory is touched.  0, or -1 with one line on stderr. */
static int check_fuse_options(const struct fuse_args *args)
{
	struct fuse_args copy = FUSE_ARGS_INIT(0, NULL);
	static const struct fuse_lowlevel_ops no_ops;
	struct fuse_session *se = NULL;
	int ret = 0;

	for (int i = 0; i < args->argc && !ret; i++)
		ret = fuse_opt_add_arg(&copy, args->argv[i]);
	fuse_complaint[0] = '\0';
	fuse_set_log_func(keep_complaint);
	if (!ret)
		se = fuse_session_new(&copy, &no_ops, sizeof(no_ops), NULL);
	fuse_set_log_func(NULL);
	fuse_opt_free_args(&copy);
	if (!se) {
		report_complaint();
		return -1;
	}
	fuse_session_destroy(se);
	return 0;
}

/* True when path is itself a mount point in /proc/self/mountinfo. */
static int is_mounted(const char *path)
{
	char real[PATH_MAX], line[PATH_MAX * 2], point[PATH_MAX];
	FILE *f;
	int found = 0;

	if (!realpath(path, real))
		return 0;
	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1 &&
			strcmp(point, real) == 0;
	fclose(f);
	return found;
}

/* Checked before libfuse sees the mount point, which would print its
 * noise and a usage for one that is not there: a one-line error naming
 * it, exit status 1.  Otherwise cmd->mountpoint is its absolute path (the
 * daemon leaves its working directory when it goes to the background) and
 * the result is -1: go on. */
static int check_mountpoint(const char *path, struct fuse_cmdline_opts *cmd)
{
	const char *problem = NULL;
	struct stat st;

	errno = 0;
	if (stat(path, &st) != 0 && errno == ENOTCONN) {
		fprintf(stderr, "rwfs: mount point '%s' is a stale mount (its daemon ended "
			"without unmounting); clear it with: fusermount3 -u %s\n", path, path);
		return 1;
	}
	if (errno == ENOENT)
		problem = "does not exist";
	else if (errno)
		problem = strerror(errno);
	else if (!S_ISDIR(st.st_mode))
		problem = "is not a directory";
	else if (is_mounted(path))
		problem = "is already mounted";
	else if (!(cmd->mountpoint = realpath(path, NULL)))
		problem = strerror(errno);
	if (problem) {
		fprintf(stderr, "rwfs: mount point '%s' %s\n", path, problem);
		return 1;
	}
	return -1;
}

/* True for the source that mount(8) passes first: "rwfs" from an fstab
 * line, or a path ending in /rwfs, which mount makes of it when its working
 * directory holds a file of that name. */
static bool is_source(const char *word)
{
	const char *slash = strrchr(word, '/');

	return strcmp(slash ? slash + 1 : word, SOURCE_NAME) == 0;
}

/* -o allow_other lets every local user in: the kernel then checks the
 * modes and owners (the sticky bit of queues/ and files/ among them) as
 * on a disk, unless --no-default-permissions says otherwise.  0, or -1
 * with a line on stderr. */
static int permissions_implied(const struct options *opts, struct fuse_args *args)
{
	if (opts->no_default_permissions && opts->default_permissions) {
		usage_error("-o default_permissions and --no-default-permissions contradict "
			    "each other");
		return -1;
	}
	if (!opts->allow_other || opts->no_default_permissions || opts->default_permissions)
		return 0;
	if (fuse_opt_add_arg(args, "-odefault_permissions") != 0) {
		fprintf(stderr, "rwfs: out of memory\n");
		return -1;
	}
	return 0;
}

/* The whole command line, before anything else is done.  Returns -1 when
 * the daemon may go on, else the exit status (0 after --help or
 * --version).  cmd->mountpoint is then absolute (malloc'd), or NULL with
 * --dump. */
static int parse_command_line(int argc, char *argv[], struct fuse_args *args,
			      struct options *opts, struct fuse_cmdline_opts *cmd)
{
	struct fuse_opt *spec = build_spec();
	const char *mountpoint;
	int ret;

	if (!spec) {
		fprintf(stderr, "rwfs: out of memory\n");
		return 1;
	}
	ret = join_values(argc, argv, args);
	if (!ret)
		ret = fuse_opt_parse(args, opts, spec, option_filter);
	free_spec(spec);
	if (ret)
		return 2;
	if (opts->unknown) {
		usage_error("unknown option '%s'", opts->unknown);
		return 2;
	}
	if (permissions_implied(opts, args) != 0)
		return 2;
	fuse_complaint[0] = '\0';
	fuse_set_log_func(keep_complaint);
	ret = fuse_parse_cmdline(args, cmd);
	fuse_set_log_func(NULL);
	if (ret) {
		report_complaint();
		return 2;
	}
	if (cmd->show_help) {
		usage(stdout, argv[0]);
		printf("FUSE options:\n");
		fflush(stdout);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		return 0;
	}
	if (cmd->show_version) {
		printf("rwfs %s (libfuse %s)\n", RWFS_VERSION, fuse_pkgversion());
		return 0;
	}
	if (check_fuse_options(args) != 0 || parse_numbers(opts) != 0)
		return 2;
	if (opts->sync && parse_sync(opts->sync, &opts->sync_mode) != 0)
		return 2;

	ret = opts->nwords >= 2 && is_source(opts->words[0]) ? 1 : 0;
	if (opts->nwords > ret + 1) {
		usage_error("unexpected argument '%s' after the mount point '%s'",
			    opts->words[ret + 1], opts->words[ret]);
		return 2;
	}
	mountpoint = opts->nwords > ret ? opts->words[ret] : NULL;
	if (opts->dump)
		return -1;
	if (!mountpoint) {
		usage_error("no mount point given");
		return 2;
	}
	return check_mountpoint(mountpoint, cmd);
}

/* Opens the state directory's log.  A daemon that was just unmounted may
 * still hold its lock for a moment, saving as it exits (fusermount3 -u
 * returns before it has), so a busy directory is asked again for a while
 * before it is reported. */
static int open_log(const struct log_file_options *lo, struct log **log, char *msg,
		    size_t size)
{
	int ret = log_file_open(lo, log, msg, size);

	for (int tries = 0; ret == -EBUSY && tries < BUSY_TRIES; tries++) {
		usleep(BUSY_WAIT_US);
		ret = log_file_open(lo, log, msg, size);
	}
	return ret;
}

/* Opens the state directory and restores st from it (*restored: the
 * records it held), then begins this run's session.  A directory that
 * does not exist is made (0700), as the spec asks; its parent must exist,
 * and the start line names the directory, so a typo shows. */
static int open_state(const struct options *opts, struct state *st, uint64_t *restored)
{
	struct log_file_options lo = {
		.dir = state_dir(opts),
		.sync = opts->sync_mode,
		.compact_bytes = opts->compact_size,
		.recover = opts->recover,
		.notices = stderr,
	};
	char msg[512] = "", digest[STATE_DIGEST_HEX + 1];
	struct timespec now;
	struct log *log;
	int ret;

	if (mkdir(state_dir(opts), 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "rwfs: cannot make state directory '%s': %s\n", state_dir(opts),
			strerror(errno));
		return -1;
	}
	ret = open_log(&lo, &log, msg, sizeof(msg));
	if (!ret)
		ret = state_attach_log(st, log, msg, sizeof(msg));
	if (!ret && state_digest(st, restored, digest) != 0)
		*restored = 0;
	/* A session number no earlier run used: its start, in ns. */
	clock_gettime(CLOCK_REALTIME, &now);
	if (!ret)
		ret = state_begin(st, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec,
				  opts->memory, msg, sizeof(msg));
	if (ret) {
		fprintf(stderr, "rwfs: %s\n", msg);
		return -1;
	}
	return 0;
}

static void cluster_notice(void *arg, const char *line)
{
	evlog_append(state_evlog(arg), "%s", line);
}

static int probe_cluster(const struct options *opts)
{
	char msg[512] = "";

	if (log_etcd_probe(opts->etcd, opts->etcd_timeout * 1000, msg, sizeof(msg)) == 0)
		return 0;
	fprintf(stderr, "rwfs: %s\n", msg);
	return -1;
}

/* Joins the etcd cluster, catches up with its state and begins this
 * mount's session; should the mount die, the cluster applies its farewell
 * (the session's end) a lease later.  After the daemon's fork: the log's
 * threads would not survive it. */
static int open_cluster(const struct options *opts, struct state *st)
{
	struct log_etcd_options eo = {
		.endpoints = opts->etcd,
		.prefix = opts->etcd_prefix,
		.timeout_ms = opts->etcd_timeout * 1000,
		.lease_s = opts->lease,
		.local_reads = opts->reads && strcmp(opts->reads, "local") == 0,
		.compact_bytes = opts->compact_size ? opts->compact_size : ETCD_COMPACT_BYTES,
		.notice = cluster_notice,
		.notice_arg = st,
	};
	char msg[512] = "";
	struct timespec now;
	uint64_t session;
	struct log *log;
	void *farewell;
	int ret;

	clock_gettime(CLOCK_REALTIME, &now);
	session = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	ret = state_farewell(session, &farewell, &eo.farewell_len);
	if (ret) {
		snprintf(msg, sizeof(msg), "out of memory");
	} else {
		eo.farewell = farewell;
		ret = log_etcd_open(&eo, &log, msg, sizeof(msg));
		free(farewell);
	}
	if (!ret)
		ret = state_attach_log(st, log, msg, sizeof(msg));
	if (!ret)
		ret = state_begin(st, session, opts->memory, msg, sizeof(msg));
	if (ret) {
		fprintf(stderr, "rwfs: %s\n", msg);
		evlog_append(state_evlog(st), "rwfs: %s", msg);
		return -1;
	}
	return 0;
}

/* --dump: one line per record, "FILE OFFSET position N: RECORD". */
static void print_record(void *arg, const void *rec, size_t len)
{
	char line[1024];
	struct record r;

	if (record_decode(rec, len, &r) == 0)
		record_format(&r, line, sizeof(line));
	else
		snprintf(line, sizeof(line), "(a record that does not decode: %zu bytes)", len);
	fprintf(arg, "%s\n", line);
}

static void dump_entry(void *arg, const char *file, uint64_t offset, uint64_t position,
		       bool is_snapshot, const void *rec, size_t len)
{
	FILE *out = arg;

	if (is_snapshot) {
		fprintf(out, "%s @%llu: the state as of position %llu\n", file,
			(unsigned long long)offset, (unsigned long long)position);
		if (state_blob_records(rec, len, print_record, out))
			fprintf(out, "%s: the snapshot's records are cut short\n", file);
		return;
	}
	fprintf(out, "%s @%llu position %llu: ", file, (unsigned long long)offset,
		(unsigned long long)position);
	print_record(out, rec, len);
}

/* Configuration, before the journal is replayed: the default capacity of
 * new queues and the shop's users. */
static int configure(const struct options *opts, struct state *st)
{
	char msg[512] = "";

	if (state_set_queue_capacity(st, opts->queue_capacity) != 0)
		return -1; /* checked with the other options */
	if (state_shop_users(st, opts->users, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "rwfs: %s\n", msg);
		return -1;
	}
	return 0;
}

/* The shop's first stock, after the replay: only a state without stock
 * gets it. */
static int seed(const struct options *opts, struct state *st)
{
	char msg[512] = "";

	if (state_shop_seed(st, opts->inventory, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "rwfs: %s\n", msg);
		return -1;
	}
	return 0;
}

/* Ends the session the way SIGTERM does when the mount point leaves the
 * mount table while files are still open (`fusermount3 -u -z`): nobody can
 * reach the mount any more, and its blocked readers would otherwise wait
 * forever.  /proc/self/mounts reports a change of the table as POLLPRI. */
static void *watch_mount(void *arg)
{
	const char *mountpoint = arg;
	struct pollfd p = { .events = POLLPRI };
	sigset_t signals;

	/* The signal must reach a thread that libfuse wakes with it. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	p.fd = open("/proc/self/mounts", O_RDONLY | O_CLOEXEC);
	if (p.fd < 0)
		return NULL;
	while (poll(&p, 1, -1) >= 0 || errno == EINTR) {
		if (!is_mounted(mountpoint)) {
			kill(getpid(), SIGTERM);
			break;
		}
	}
	close(p.fd);
	return NULL;
}

/* fuse_session_unmount also frees what fuse_session_mount kept, so it is
 * always called; after `fusermount3 -u -z` there is nothing left to
 * unmount, and libfuse's complaint about that is not worth a line. */
static void unmount(struct fuse_session *se, const char *mountpoint)
{
	int saved = -1, null;

	if (!is_mounted(mountpoint)) {
		saved = dup(STDERR_FILENO);
		null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDERR_FILENO);
			close(null);
		}
	}
	fuse_session_unmount(se);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
}

/* The event log in the background: each line a syslog message of the
 * daemon facility.  A stream, so that the event log needs no second way
 * out. */
static ssize_t syslog_write(void *cookie, const char *buf, size_t size)
{
	size_t start = 0;

	(void)cookie;
	for (size_t i = 0; i <= size; i++) {
		if (i == size || buf[i] == '\n') {
			if (i > start)
				syslog(LOG_INFO, "%.*s", (int)(i - start), buf + start);
			start = i + 1;
		}
	}
	return (ssize_t)size;
}

/* Where the event log goes: nowhere with --quiet, else --log=FILE
 * (appended, readable by its owner only: it names what clients did), else
 * the console in the foreground and syslog in the background.  *out is
 * NULL, stdout or a stream the caller closes.  0, or -1 with a line on stderr. */
static int open_event_log(const struct options *opts, bool foreground, FILE **out)
{
	static const cookie_io_functions_t to_syslog = { .write = syslog_write };
	int fd;

	*out = NULL;
	if (opts->quiet)
		return 0;
	if (opts->log) {
		fd = open(opts->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		*out = fd >= 0 ? fdopen(fd, "a") : NULL;
		if (!*out) {
			fprintf(stderr, "rwfs: cannot open the log '%s': %s\n", opts->log,
				strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
	} else if (foreground) {
		*out = stdout;
	} else {
		openlog("rwfs", LOG_PID, LOG_DAEMON);
		*out = fopencookie(NULL, "w", to_syslog);
	}
	if (!*out) {
		fprintf(stderr, "rwfs: cannot start the event log: %s\n", strerror(errno));
		return -1;
	}
	setvbuf(*out, NULL, _IOLBF, 0);
	return 0;
}

/* The start line, in the event log's own format (the daemon is its own
 * client): what is mounted where, from which state, how much of it.
 * Made before the daemon leaves its working directory. */
static void start_line(const struct options *opts, const char *mountpoint, uint64_t restored,
		       char *line, size_t size)
{
	if (opts->etcd) {
		snprintf(line, size, "mount %s -> rwfs %s, etcd %s, reads %s", mountpoint,
			 RWFS_VERSION, opts->etcd, opts->reads ? opts->reads : "linearizable");
		return;
	}
	char *dir = realpath(state_dir(opts), NULL);

	snprintf(line, size, "mount %s -> rwfs %s, state %s, %llu records restored, sync %s",
		 mountpoint, RWFS_VERSION, dir ? dir : state_dir(opts),
		 (unsigned long long)restored, sync_names[opts->sync_mode]);
	free(dir);
}

static unsigned worker_threads(const struct options *opts, const struct fuse_cmdline_opts *cmd)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (opts->max_threads_given)
		return cmd->max_threads;
	if (opts->etcd)
		return ETCD_THREADS;
	if (opts->sync_mode == LOG_SYNC_ALWAYS)
		return SYNC_ALWAYS_THREADS;
	return cpus * THREADS_PER_CPU > MIN_THREADS ? (unsigned)(cpus * THREADS_PER_CPU)
						     : MIN_THREADS;
}

/* Mounts, serves until unmounted, unmounts.  started: the start line,
 * logged once the daemon is in the background.  The exit status. */
static int run_session(struct fuse_args *args, struct fuse_cmdline_opts *cmd,
		       const struct options *opts, struct state *st, const char *started)
{
	struct fuse_loop_config *config = NULL;
	struct fuse_session *se;
	struct rwfs *fs;
	pthread_t watcher;
	bool watching = false;
	int ret = 1;

	fs = rwfs_new(st);
	if (!fs)
		return 1;
	se = fuse_session_new(args, &rwfs_ops, sizeof(rwfs_ops), fs);
	if (!se) {
		ret = 2;
		goto out_fs;
	}
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, cmd->mountpoint) != 0)
		goto out_signals;
	fuse_daemonize(cmd->foreground);
	/* After the fork of fuse_daemonize: threads do not survive it. */
	if (evlog_start(state_evlog(st)) == -EAGAIN) {
		fprintf(stderr, "rwfs: cannot start a thread\n");
		goto out_unmount;
	}
	if (opts->etcd ? open_cluster(opts, st) != 0 || seed(opts, st) != 0
		       : log_file_start(state_log(st)) != 0)
		goto out_unmount;
	if (pthread_create(&watcher, NULL, watch_mount, cmd->mountpoint) != 0) {
		fprintf(stderr, "rwfs: cannot start a thread\n");
		goto out_unmount;
	}
	watching = true;
	evlog_append(state_evlog(st), "pid %d (rwfs) %s", (int)getpid(), started);

	config = fuse_loop_cfg_create();
	if (!config)
		goto out_unmount;
	fuse_loop_cfg_set_clone_fd(config, cmd->clone_fd);
	fuse_loop_cfg_set_max_threads(config, worker_threads(opts, cmd));
	/* UINT_MAX is libfuse's "not given"; its own default keeps idle
	 * threads instead of churning them. */
	if (cmd->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(config, cmd->max_idle_threads);
	ret = cmd->singlethread ? fuse_session_loop(se) : fuse_session_loop_mt(se, config);
	ret = ret < 0 ? 1 : 0;
	fuse_loop_cfg_destroy(config);

out_unmount:
	if (watching) {
		pthread_cancel(watcher);
		pthread_join(watcher, NULL);
	}
	/* Parked readers get their EOF while the connection still stands. */
	rwfs_free(fs);
	fs = NULL;
	unmount(se, cmd->mountpoint);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_fs:
	rwfs_free(fs);
	return ret;
}

/* --dump: the state directory's records on stdout.  The exit status. */
static int dump(const struct options *opts)
{
	int ret = log_file_dump(state_dir(opts), dump_entry, stdout, stdout);

	if (ret)
		fprintf(stderr, "rwfs: %s: %s\n", state_dir(opts), strerror(-ret));
	return ret ? 1 : 0;
}

/* A core dump of the daemon would hold live tokens and what clients sent
 * (passwords among it): there is none. */
static void forbid_core_dumps(void)
{
	struct rlimit none = { 0, 0 };

	setrlimit(RLIMIT_CORE, &none);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct options opts = {
		.memory = STATE_DEFAULT_CELLS,
		.queue_capacity = QUEUES_DEFAULT_CAPACITY,
		.sync_mode = LOG_SYNC_EVERYSEC,
	};
	struct fuse_cmdline_opts cmd = { 0 };
	struct state *st = NULL;
	FILE *event_log = NULL;
	uint64_t restored = 0;
	char started[EVLOG_LINE_MAX];
	int ret;

	forbid_core_dumps();
	ret = parse_command_line(argc, argv, &args, &opts, &cmd);
	if (ret >= 0)
		goto out;
	if (opts.dump) {
		ret = dump(&opts);
		goto out;
	}
	ret = 1;
	if (open_event_log(&opts, cmd.foreground, &event_log) != 0)
		goto out;
	st = state_new(event_log);
	if (!st) {
		fprintf(stderr, "rwfs: out of memory\n");
		goto out;
	}
	if (configure(&opts, st) != 0)
		goto out;
	/* A cluster is joined after the fork; whether it answers at all is
	 * told here, on the terminal. */
	if (opts.etcd ? probe_cluster(&opts) != 0
		      : open_state(&opts, st, &restored) != 0 || seed(&opts, st) != 0)
		goto out;
	start_line(&opts, cmd.mountpoint, restored, started, sizeof(started));
	ret = run_session(&args, &cmd, &opts, st, started);

out:
	state_free(st);
	if (event_log && event_log != stdout)
		fclose(event_log);
	free_options(&opts);
	free(cmd.mountpoint);
	fuse_opt_free_args(&args);
	return ret;
}
