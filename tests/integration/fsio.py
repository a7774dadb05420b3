"""fsio.py - exact system calls for the integration tests.

    fsio.py write PATH DATA [--trunc]  open for writing, ONE write(), close;
                                       prints OK or the errno name (EINVAL...),
                                       open:ENAME / close:ENAME / short:N
    fsio.py ctl PATH DATA              open read-write, ONE write(), then read
                                       the reply to EOF on the same open file;
                                       prints OK or the errno name, then the reply
    fsio.py cat PATH                   open, read to EOF; prints repr() of the bytes

DATA "--stdin" means standard input.  Nothing is unescaped.
"""
import errno
import os
import sys


def name(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def data_arg(arg):
    return sys.stdin.buffer.read() if arg == "--stdin" else arg.encode()


def read_to_eof(fd):
    chunks = []
    for _ in range(10000):
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def do_write(path, data, trunc):
    flags = os.O_WRONLY | (os.O_TRUNC if trunc else 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        return "open:" + name(e)
    result = "OK"
    try:
        n = os.write(fd, data)
        if n != len(data):
            result = "short:%d" % n
    except OSError as e:
        result = name(e)
    try:
        os.close(fd)
    except OSError as e:
        if result == "OK":
            result = "close:" + name(e)
    return result


def do_ctl(path, data):
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as e:
        return "open:" + name(e), b""
    status = "OK"
    try:
        n = os.write(fd, data)
        if n != len(data):
            status = "short:%d" % n
    except OSError as e:
        status = name(e)
    try:
        reply = read_to_eof(fd)
    except OSError as e:
        reply = ("read:" + name(e)).encode()
    os.close(fd)
    return status, reply


def main(argv):
    if len(argv) >= 3 and argv[0] == "write":
        print(do_write(argv[1], data_arg(argv[2]), "--trunc" in argv[3:]))
    elif len(argv) == 3 and argv[0] == "ctl":
        status, reply = do_ctl(argv[1], data_arg(argv[2]))
        sys.stdout.buffer.write(status.encode() + b"\n" + reply)
    elif len(argv) == 2 and argv[0] == "cat":
        fd = os.open(argv[1], os.O_RDONLY)
        print(repr(read_to_eof(fd)))
        os.close(fd)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
