# attack: a fork bomb during a call; every child keeps forking and spinning. The pids cgroup (or
# RLIMIT_NPROC) must cap it, and the kill of the call's timeout must take every process with it.
# stopped-by: sandbox
# expect: scale=timeout add_one=passed
# seconds: 60
import os


def scale(x, factor):
    while True:
        try:
            os.fork()
        except OSError:
            pass
