"""etcd_fault_writer.py - one writer of the fault tests: `ADD A 1` through
mnt/ctl, one open, write and close each, until a stop file appears.

    etcd_fault_writer.py CTL STOPFILE MARKFILE

Prints one line: attempted acknowledged failed longest_stall_ms
acknowledged_after_mark, where a stall is the time one write took (failed
or not) and the mark is a file the test creates at the fault.  A write
whose outcome is unknown (it failed) may still have been applied, so the
register ends between acknowledged and attempted.
"""
import os
import sys
import time


def main():
    ctl, stop, mark = sys.argv[1:4]
    attempted = acked = failed = after_mark = 0
    longest = 0.0
    while not os.path.exists(stop):
        marked = os.path.exists(mark)
        attempted += 1
        start = time.monotonic()
        try:
            fd = os.open(ctl, os.O_WRONLY)
            try:
                os.write(fd, b"ADD A 1\n")
            finally:
                os.close(fd)
            acked += 1
            if marked:
                after_mark += 1
        except OSError:
            failed += 1
        longest = max(longest, time.monotonic() - start)
    print("%d %d %d %d %d" % (attempted, acked, failed, longest * 1000, after_mark))


main()
