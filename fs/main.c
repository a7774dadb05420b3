/* main.c - rwfs: options, mount, the multi-threaded session loop, signals
 * and a clean shutdown.
 *
 * libfuse conventions: background by default, -f foreground (then the
 * event log goes to stdout), -d debug, -o mount options.  Ctrl-C, SIGTERM
 * and `fusermount3 -u` all end the loop the same way and unmount.
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "engine/queues.h"
#include "engine/record.h"
#include "engine/state.h"
#include "log/file.h"
#include "ops.h"

#define RWFS_VERSION "0.1.0"

#define DEFAULT_STATE "rwfs.state"
#define BUSY_TRIES 40       /* a busy state directory is asked again this often, */
#define BUSY_WAIT_US 50000  /* this long apart: 2 s in all */

struct options {
	unsigned memory;
	int quiet;
	char *state;
	char *sync;
	unsigned long compact_size;
	int recover;
	int dump;
	unsigned queue_capacity;
	char *memory_arg;         /* the numbers as given, checked by parse_numbers */
	char *compact_size_arg;
	char *queue_capacity_arg;
	char *users;
	char *inventory;
	int asked;             /* -h or -V: no mount point needed */
	const char *mountpoint; /* the first non-option argument */
};

static const struct fuse_opt option_spec[] = {
	{ "--memory=%s", offsetof(struct options, memory_arg), 0 },
	{ "--quiet", offsetof(struct options, quiet), 1 },
	{ "--state=%s", offsetof(struct options, state), 0 },
	{ "--sync=%s", offsetof(struct options, sync), 0 },
	{ "--compact-size=%s", offsetof(struct options, compact_size_arg), 0 },
	{ "--recover", offsetof(struct options, recover), 1 },
	{ "--dump", offsetof(struct options, dump), 1 },
	{ "--queue-capacity=%s", offsetof(struct options, queue_capacity_arg), 0 },
	{ "--users=%s", offsetof(struct options, users), 0 },
	{ "--inventory=%s", offsetof(struct options, inventory), 0 },
	FUSE_OPT_END
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [options] MOUNTPOINT\n"
		"\n"
		"Shared memory as files under MOUNTPOINT: registers A-Z, memory\n"
		"cells, an instruction file, producer/consumer queues, a shop and\n"
		"shared files (MOUNTPOINT/files/), all journaled in the state\n"
		"directory.  flock and fcntl locks on every file are granted by the\n"
		"daemon, fairly, in arrival order.\n"
		"\n"
		"rwfs options:\n"
		"    --state=DIR            state directory (default ./%s, made on first\n"
		"                           use; a DIR given here must exist)\n"
		"    --sync=MODE            always: on disk before each write returns;\n"
		"                           everysec (default): on disk within a second;\n"
		"                           no: when the kernel flushes\n"
		"    --compact-size=BYTES   compact the journal past this size (default %u)\n"
		"    --recover              start from the last good record of a damaged\n"
		"                           journal (a copy of it is kept)\n"
		"    --dump                 print the state directory's records and exit\n"
		"    --memory=N             number of memory cells (default %d, at most %u)\n"
		"    --queue-capacity=N     items a new queue holds (default %d, at most %d)\n"
		"    --users=FILE           the shop's users, USER:HASH lines (crypt(3)\n"
		"                           hashes); default: the demo users\n"
		"    --inventory=FILE       the shop's first stock, CSV upc,name,count;\n"
		"                           used only while the state holds no stock\n"
		"    --quiet                no event log on the console in -f mode\n"
		"\n"
		"Queues: stat shows each queue as 1048576 bytes (so that writers of one\n"
		"queue never wait for each other in the kernel); the bytes waiting are\n"
		"its attribute user.bytes and in MOUNTPOINT/stats. To seal, unseal or\n"
		"remove a queue while a writer waits on it, set an attribute of the\n"
		"directory: setfattr -n user.seal -v NAME MOUNTPOINT/queues (user.unseal,\n"
		"user.remove); chmod and rm of the queue itself wait for that writer.\n"
		"\n",
		prog, DEFAULT_STATE, LOG_FILE_DEFAULT_COMPACT_BYTES, STATE_DEFAULT_CELLS,
		STATE_MAX_CELLS, QUEUES_DEFAULT_CAPACITY, QUEUES_MAX_CAPACITY);
}

/* Keeps libfuse's own options and refuses unknown long options, which
 * libfuse would otherwise take for the mount point. */
static int option_filter(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct options *opts = data;
	bool asks = strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0 ||
		    strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0;

	(void)outargs;
	if (key == FUSE_OPT_KEY_OPT && strncmp(arg, "--", 2) == 0 && !asks) {
		fprintf(stderr, "rwfs: unknown option '%s'\n", arg);
		return -1;
	}
	opts->asked |= asks;
	if (key == FUSE_OPT_KEY_NONOPT && !opts->mountpoint)
		opts->mountpoint = arg;
	return 1;
}

static int parse_sync(const char *name, enum log_file_sync *out)
{
	static const char *const names[] = {
		[LOG_SYNC_ALWAYS] = "always",
		[LOG_SYNC_EVERYSEC] = "everysec",
		[LOG_SYNC_NO] = "no",
	};

	for (int i = 0; i < 3; i++) {
		if (strcmp(name, names[i]) == 0) {
			*out = (enum log_file_sync)i;
			return 0;
		}
	}
	fprintf(stderr, "rwfs: --sync must be always, everysec or no, not '%s'\n", name);
	return -1;
}

/* Opens the state directory and restores st from it, then begins this
 * run's session.  The default directory is made on first use; one given
 * with --state must exist, so that a mistyped path is not silently a new,
 * empty state. */
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

static int open_state(const struct options *opts, enum log_file_sync sync, struct state *st)
{
	struct log_file_options lo = {
		.dir = opts->state ? opts->state : DEFAULT_STATE,
		.sync = sync,
		.compact_bytes = opts->compact_size,
		.recover = opts->recover,
		.notices = stderr,
	};
	struct timespec now;
	struct log *log;
	char msg[512] = "";
	int ret;

	if (!opts->state && mkdir(DEFAULT_STATE, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "rwfs: cannot make state directory '%s': %s\n", DEFAULT_STATE,
			strerror(errno));
		return -1;
	}
	ret = open_log(&lo, &log, msg, sizeof(msg));
	if (!ret)
		ret = state_attach_log(st, log, msg, sizeof(msg));
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

/* A one-line reason why path cannot be mounted on, or NULL. */
static const char *mountpoint_problem(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		if (errno == ENOTCONN)
			return "a stale mount (run fusermount3 -u on it first)";
		return errno == ENOENT ? "does not exist" : strerror(errno);
	}
	if (!S_ISDIR(st.st_mode))
		return "is not a directory";
	if (is_mounted(path))
		return "is already mounted";
	return NULL;
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

static int run_session(struct fuse_args *args, struct fuse_cmdline_opts *cmd,
		       struct state *st)
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
	if (log_file_start(state_log(st)) != 0 ||
	    pthread_create(&watcher, NULL, watch_mount, cmd->mountpoint) != 0) {
		fprintf(stderr, "rwfs: cannot start a thread\n");
		goto out_unmount;
	}
	watching = true;

	config = fuse_loop_cfg_create();
	if (!config)
		goto out_unmount;
	fuse_loop_cfg_set_clone_fd(config, cmd->clone_fd);
	fuse_loop_cfg_set_max_threads(config, cmd->max_threads);
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

static int parse_numbers(struct options *o)
{
	unsigned long long memory = o->memory, compact = o->compact_size,
			   capacity = o->queue_capacity;

	if (number_option("--memory", o->memory_arg, 1, STATE_MAX_CELLS, &memory) ||
	    number_option("--compact-size", o->compact_size_arg, 1, ULONG_MAX, &compact) ||
	    number_option("--queue-capacity", o->queue_capacity_arg, 1, QUEUES_MAX_CAPACITY,
			  &capacity))
		return -1;
	o->memory = (unsigned)memory;
	o->compact_size = (unsigned long)compact;
	o->queue_capacity = (unsigned)capacity;
	return 0;
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
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct options opts = {
		.memory = STATE_DEFAULT_CELLS,
		.queue_capacity = QUEUES_DEFAULT_CAPACITY,
	};
	struct fuse_cmdline_opts cmd = { 0 };
	enum log_file_sync sync = LOG_SYNC_EVERYSEC;
	const char *problem;
	struct state *st = NULL;
	int ret = 2;

	forbid_core_dumps();
	if (fuse_opt_parse(&args, &opts, option_spec, option_filter) != 0) {
		usage(stderr, argv[0]);
		goto out;
	}
	/* Before libfuse's own parsing, which would print its noise and a
	 * usage for a mount point that is not there. */
	problem = opts.mountpoint && !opts.asked && !opts.dump
			  ? mountpoint_problem(opts.mountpoint) : NULL;
	if (problem) {
		fprintf(stderr, "rwfs: mount point '%s' %s\n", opts.mountpoint, problem);
		ret = 1;
		goto out;
	}
	if (fuse_parse_cmdline(&args, &cmd) != 0) {
		usage(stderr, argv[0]);
		goto out;
	}
	if (cmd.show_help) {
		usage(stdout, argv[0]);
		printf("FUSE options:\n");
		fflush(stdout);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out;
	}
	if (opts.dump) {
		ret = log_file_dump(opts.state ? opts.state : DEFAULT_STATE, dump_entry, stdout,
				    stdout);
		if (ret)
			fprintf(stderr, "rwfs: %s: %s\n", opts.state ? opts.state : DEFAULT_STATE,
				strerror(-ret));
		ret = ret ? 1 : 0;
		goto out;
	}
	if (cmd.show_version) {
		printf("rwfs %s (libfuse %s)\n", RWFS_VERSION, fuse_pkgversion());
		ret = 0;
		goto out;
	}
	if (!cmd.mountpoint) {
		fprintf(stderr, "rwfs: no mount point given\n");
		usage(stderr, argv[0]);
		goto out;
	}
	if (parse_numbers(&opts) != 0)
		goto out;
	if (opts.sync && parse_sync(opts.sync, &sync) != 0)
		goto out;
	ret = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	st = state_new(cmd.foreground && !opts.quiet ? stdout : NULL);
	if (!st) {
		fprintf(stderr, "rwfs: out of memory\n");
		goto out;
	}
	if (configure(&opts, st) != 0 || open_state(&opts, sync, st) != 0 ||
	    seed(&opts, st) != 0)
		goto out;
	ret = run_session(&args, &cmd, st);

out:
	state_free(st);
	free(opts.state);
	free(opts.sync);
	free(opts.users);
	free(opts.inventory);
	free(opts.memory_arg);
	free(opts.compact_size_arg);
	free(opts.queue_capacity_arg);
	free(cmd.mountpoint);
	fuse_opt_free_args(&args);
	return ret;
}
