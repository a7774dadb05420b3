"""shopio.py - the mnt/shop conversation for the shop tests' Python parts.

    from shopio import request
    reply = request(fd, "login alice wonderland\n")   # on an open file
    reply = request(path, "whoami TOKEN\n")           # on a fresh open

One write() of the request, then the reply read to end of file on the same
open file.  Returns the reply bytes.  (lib.sh puts this directory on
PYTHONPATH.)
"""
import os


def request(file, text):
    fd = os.open(file, os.O_RDWR) if isinstance(file, str) else file
    try:
        os.write(fd, text.encode())
        out = b""
        while True:
            chunk = os.read(fd, 4096)
            if not chunk:
                return out
            out += chunk
    finally:
        if fd is not file:
            os.close(fd)
