/* minfuse.c - the smallest useful low-level FUSE filesystem, as a yardstick.
 *
 * One directory holding one file `f` that always reads "0\n" and accepts
 * any write.  It runs the same transport as rwfs (low-level API, the same
 * multithreaded session loop and options, direct_io with parallel direct
 * writes, entry_timeout 86400, attr_timeout 0) and does no work of its own, so rwfs's rates divided by
 * its rates show what rwfs's engine and bookkeeping cost on top of FUSE.
 *
 *     bench/minfuse -f MOUNTPOINT
 */
#define FUSE_USE_VERSION 314

#include <fuse_lowlevel.h>

#include <errno.h>
#include <linux/fuse.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_INO 2
static const char file_name[] = "f";
static const char file_text[] = "0\n";

static void fill_attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0666;
		st->st_nlink = 1;
		st->st_size = sizeof(file_text) - 1;
	}
}

static void mf_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* rwfs asks for it too: O_TRUNC then arrives with open, not setattr. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

static void mf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	if (parent != FUSE_ROOT_ID || strcmp(name, file_name) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = FILE_INO;
	e.entry_timeout = 86400.0;
	e.attr_timeout = 0.0;
	fill_attr(FILE_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void mf_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID && ino != FILE_INO) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(ino, &st);
	fuse_reply_attr(req, &st, 0.0);
}

static void mf_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FILE_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	/* As rwfs replies: libfuse 3.14's fuse_file_info has no bit for
	 * FOPEN_PARALLEL_DIRECT_WRITES, without which the kernel serializes
	 * the writes of a file. */
	struct fuse_open_out out = { .open_flags = FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES };
	struct iovec iov = { &out, sizeof(out) };

	(void)fi;
	fuse_reply_iov(req, &iov, 1);
}

static void mf_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	size_t len = sizeof(file_text) - 1;

	(void)ino;
	(void)fi;
	if (off >= (off_t)len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, file_text + off,
			       size < len - off ? size : len - off);
}

static void mf_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	(void)buf;
	(void)off;
	(void)fi;
	fuse_reply_write(req, size);
}

static const struct fuse_lowlevel_ops mf_ops = {
	.init = mf_init,
	.lookup = mf_lookup,
	.getattr = mf_getattr,
	.open = mf_open,
	.read = mf_read,
	.write = mf_write,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config *config;
	struct fuse_session *se;
	int ret = 1;

	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (opts.show_help || opts.show_version) {
		printf("usage: %s [-f] [-d] MOUNTPOINT\n", argv[0]);
		ret = 0;
		goto out_args;
	}
	if (opts.mountpoint == NULL) {
		fprintf(stderr, "usage: %s [-f] [-d] MOUNTPOINT\n", argv[0]);
		ret = 2;
		goto out_args;
	}
	se = fuse_session_new(&args, &mf_ops, sizeof(mf_ops), NULL);
	if (se == NULL)
		goto out_args;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	fuse_daemonize(opts.foreground);

	config = fuse_loop_cfg_create();
	if (config == NULL)
		goto out_unmount;
	fuse_loop_cfg_set_clone_fd(config, opts.clone_fd);
	fuse_loop_cfg_set_max_threads(config, opts.max_threads);
	if (opts.max_idle_threads != UINT_MAX)  /* UINT_MAX: not given */
		fuse_loop_cfg_set_idle_threads(config, opts.max_idle_threads);
	/* A positive result is the signal that ended the loop: a clean stop. */
	ret = fuse_session_loop_mt(se, config) < 0;
	fuse_loop_cfg_destroy(config);
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return ret;
}
