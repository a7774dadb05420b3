"""qio.py - one exact system call on a queue, for the queue tests.

    qio.py w PATH EXPR [--nb]       open for writing, ONE write() of the bytes
                                    of the Python expression EXPR (b"a\\nb")
    qio.py r PATH [SIZE] [--nb]     open for reading, ONE read() of SIZE bytes
                                    (default 65536)
    qio.py drain PATH               open with O_NONBLOCK and read until EAGAIN
                                    or end of file: one line per read()
    qio.py create PATH              open(O_WRONLY | O_CREAT)
    qio.py setx PATH NAME VALUE     setxattr
    qio.py getx PATH NAME           getxattr

Prints OK, EOF (a read of 0 bytes), repr() of the bytes read, the value of
getx, or the errno name (EINVAL...); open:ENAME when the open fails,
short:N for a write of fewer bytes.  --nb opens with O_NONBLOCK.  --eintr
(w and r): the call is made through libc, and SIGALRM interrupts it, so that
the outcome of the very system call is seen (EINTR), not Python's retry.
Used instead of the shell because bash's echo writes line by line.
"""
import ctypes
import errno
import os
import signal
import sys


def name(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def opened(path, flags):
    try:
        return os.open(path, flags)
    except OSError as e:
        print("open:" + name(e))
        sys.exit(0)


def libc_call(fn, fd, buf, size):
    """fn(fd, buf, size) through libc: its result, or OSError (EINTR too)."""
    call = getattr(ctypes.CDLL(None, use_errno=True), fn)
    call.restype = ctypes.c_ssize_t
    n = call(fd, buf, ctypes.c_size_t(size))
    if n < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return n


def do_write(path, data, nb, eintr):
    fd = opened(path, os.O_WRONLY | nb)
    if eintr:
        n = libc_call("write", fd, data, len(data))
    else:
        n = os.write(fd, data)
    return "OK" if n == len(data) else "short:%d" % n


def do_read(path, size, nb, eintr):
    fd = opened(path, os.O_RDONLY | nb)
    if eintr:
        buf = ctypes.create_string_buffer(size)
        data = buf.raw[:libc_call("read", fd, buf, size)]
    else:
        data = os.read(fd, size)
    return repr(data) if data else "EOF"


def do_drain(path):
    fd = opened(path, os.O_RDONLY | os.O_NONBLOCK)
    for _ in range(200000):
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            print("EAGAIN")
            return
        if not data:
            print("EOF")
            return
        print(repr(data))


def main(argv):
    nb = os.O_NONBLOCK if "--nb" in argv else 0
    eintr = "--eintr" in argv
    args = [a for a in argv if a not in ("--nb", "--eintr")]
    if eintr:
        # A handler that does nothing, and no SA_RESTART: the call fails.
        signal.signal(signal.SIGALRM, lambda signum, frame: None)
        signal.siginterrupt(signal.SIGALRM, True)
    cmd = args[0] if args else ""
    try:
        if cmd == "w" and len(args) == 3:
            print(do_write(args[1], eval(args[2]), nb, eintr))
        elif cmd == "r" and len(args) in (2, 3):
            print(do_read(args[1], int(args[2]) if len(args) > 2 else 65536, nb, eintr))
        elif cmd == "drain" and len(args) == 2:
            do_drain(args[1])
        elif cmd == "create" and len(args) == 2:
            os.close(os.open(args[1], os.O_WRONLY | os.O_CREAT, 0o666))
            print("OK")
        elif cmd == "setx" and len(args) == 4:
            os.setxattr(args[1], args[2], args[3].encode())
            print("OK")
        elif cmd == "getx" and len(args) == 3:
            print(os.getxattr(args[1], args[2]).decode())
        else:
            sys.stderr.write(__doc__)
            return 2
    except OSError as e:
        print(name(e))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
