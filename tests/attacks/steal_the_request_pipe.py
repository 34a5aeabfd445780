# attack: fight over the protocol pipes: a thread that steals the grader's requests, closing and
# replacing the pipe descriptors, and a signal handler that writes into the middle of a reply
# stopped-by: sandbox
# expect: scale=timeout guess_target=error guess_suite_token=error add_one=passed
# seconds: 90
import os
import signal
import sys
import threading
import time

IN, OUT = int(sys.argv[1]), int(sys.argv[2])


def scale(x, factor):
    def steal():
        while True:
            os.read(IN, 1 << 16)  # the next requests vanish into this thread

    threading.Thread(target=steal, daemon=True).start()
    time.sleep(60)


def guess_target():
    os.close(OUT)
    os.dup2(os.open("/dev/null", os.O_WRONLY), OUT)
    return None


def guess_suite_token():
    def interrupt(signum, frame):
        os.write(OUT, b"\x00garbage in the middle of a frame")

    signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.0001, 0.0001)
    return "z" * (8 << 20)
