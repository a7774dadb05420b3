/* crc.h - the two CRC-32s of the state directory's files.
 *
 * crc_ieee is zlib's crc32() (the polynomial of Ethernet and gzip): it
 * checks the headers, snapshots and etcd frames, and the records of
 * journals of format 1.  crc_castagnoli is CRC-32C (iSCSI, ext4, etcd's
 * own WAL), which x86-64 computes with one instruction per eight bytes:
 * it checks the records of journals of format 2, one per write, where
 * zlib's crc32 cost more than a tenth of a register write's instructions.
 * Where there is no instruction it is table-driven ("slicing by 8": eight
 * tables, a byte of an eight-byte word each).
 */
#ifndef RWFS_CRC_H
#define RWFS_CRC_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32 of len bytes at buf: zlib's crc32(0, buf, len), by zlib. */
uint32_t crc_ieee(const void *buf, size_t len);

/* The CRC-32C of len bytes at buf, by the CPU's crc32 instruction when it
 * has one (SSE4.2), else by crc_castagnoli_tables.  Safe from any thread
 * (the tables, 8 KiB, are built before main). */
uint32_t crc_castagnoli(const void *buf, size_t len);

/* CRC-32C by tables alone: what crc_castagnoli computes on a CPU without
 * the instruction. */
uint32_t crc_castagnoli_tables(const void *buf, size_t len);

#endif
