/* etcd_frame.h - a frame: the value of one put of the etcd log, holding
 * one or more records (several proposals grouped into one put).
 *
 *   frame = magic "rwf1" proposer:u64le batch:u64le count:u32le
 *           (length:u32le bytes[length]){count}
 *
 * The proposer (a mount's random id) and batch (its sender's number) let
 * the mount that put a frame find, when the frame comes back through the
 * watch, which of its proposals it carried.  Values read back from etcd
 * are untrusted: etcd_frame_each checks every length first.
 */
#ifndef RWFS_ETCD_FRAME_H
#define RWFS_ETCD_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define ETCD_FRAME_HEADER 24

/* Writes the header into f (ETCD_FRAME_HEADER bytes). */
void etcd_frame_put_header(unsigned char *f, uint64_t proposer, uint64_t batch, uint32_t count);

/* Writes one record's length and bytes at f; returns the bytes written. */
size_t etcd_frame_put_record(unsigned char *f, const void *rec, size_t len);

/* Called for the k-th record of a frame. */
typedef void (*etcd_frame_fn)(void *arg, uint32_t k, const void *rec, size_t len);

/* Checks the whole frame, then calls fn for each record in order, and
 * gives its proposer and batch.  Returns the number of records, or
 * -EBADMSG (not a frame, or lengths that do not add up: fn was not
 * called). */
int etcd_frame_each(const void *frame, size_t len, uint64_t *proposer, uint64_t *batch,
		    etcd_frame_fn fn, void *arg);

#endif
