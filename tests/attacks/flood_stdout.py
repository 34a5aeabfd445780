# attack: flood stdout and stderr from a cell and from a call: print, raw writes to fds 1 and 2,
# a child process that writes forever
# stopped-by: sandbox
# expect: scale=failed add_one=passed
# seconds: 60
import os
import sys

for _ in range(2000):
    print("flood " * 2000)
sys.stderr.write("E" * 10**7)


def scale(x, factor):
    chunk = b"F" * (1 << 20)
    for fd in (1, 2):
        try:
            for _ in range(64):
                os.write(fd, chunk)
        except OSError:
            pass
    if os.fork() == 0:
        try:
            while True:
                os.write(1, chunk)
        finally:
            os._exit(0)
    return x
