/* scratch.h - a fresh scratch directory for the unit tests that need files
 * (the store, the queues with a journal, the shop's configuration files).
 */
#ifndef RWFS_TEST_SCRATCH_H
#define RWFS_TEST_SCRATCH_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* Makes a new empty directory /tmp/NAME-PID-N into buf.  0 or -errno. */
static inline int scratch_dir(char *buf, size_t size, const char *name)
{
	static unsigned serial;

	for (int tries = 0; tries < 1000; tries++) {
		snprintf(buf, size, "/tmp/%s-%d-%u", name, (int)getpid(), serial++);
		if (mkdir(buf, 0700) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

static inline int scratch_remove_entry(const char *path, const struct stat *sb, int flag,
				       struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything in it.  0 or -1 (errno set). */
static inline int scratch_remove(const char *dir)
{
	return nftw(dir, scratch_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

#endif
