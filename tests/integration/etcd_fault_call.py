"""etcd_fault_call.py - one timed system call for the quorum test.

    etcd_fault_call.py write PATH DATA   open for writing, ONE write(), close
    etcd_fault_call.py read PATH         open for reading, ONE read(), close

Prints "OK MS" or "ERRNO MS" (the errno's name), MS being how long the
open, the call and the close took together, in milliseconds.
"""
import errno
import os
import sys
import time


def main():
    mode, path = sys.argv[1], sys.argv[2]
    start = time.monotonic()
    result = "OK"
    try:
        if mode == "write":
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, sys.argv[3].encode())
            finally:
                os.close(fd)
        else:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.read(fd, 4096)
            finally:
                os.close(fd)
    except OSError as e:
        result = errno.errorcode.get(e.errno, str(e.errno))
    print("%s %d" % (result, (time.monotonic() - start) * 1000))


main()
