/* memory.h - the log kept in memory: records are ordered and delivered as
 * the file log does, and kept, but nothing survives the process.  For a
 * state that needs no durability (the unit tests, the fuzzers), and to
 * replay the same records into a second state and compare.
 */
#ifndef RWFS_LOG_MEMORY_H
#define RWFS_LOG_MEMORY_H

#include "log.h"

/* A new empty memory log.  NULL when out of memory. */
struct log *log_memory_new(void);

/* A new memory log holding a copy of every record of from (and its
 * snapshot, if it was compacted): a second state that follows it applies
 * exactly what the first did.  NULL when out of memory. */
struct log *log_memory_copy(struct log *from);

/* How many records the log holds (since its last compaction). */
size_t log_memory_count(struct log *log);

#endif
