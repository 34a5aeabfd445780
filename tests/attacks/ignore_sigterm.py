# attack: ignore SIGTERM (and every catchable signal), block them, and spin, in a child too
# stopped-by: sandbox
# expect: scale=timeout add_one=passed
# seconds: 40
import os
import signal

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGALRM):
    signal.signal(sig, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})


def scale(x, factor):
    if os.fork() == 0:
        while True:
            pass
    while True:
        pass
