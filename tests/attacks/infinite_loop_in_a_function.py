# attack: functions that never return (a busy loop, a sleep, a blocking read on a pipe)
# stopped-by: sandbox
# expect: scale=timeout guess_target=timeout guess_suite_token=timeout add_one=passed
# seconds: 60
import os
import time


def scale(x, factor):
    while True:
        pass


def guess_target():
    time.sleep(10**6)


def guess_suite_token():
    read_end, _ = os.pipe()
    os.read(read_end, 1)
