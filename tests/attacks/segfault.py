# attack: crash the interpreter in native code: a NULL read in a cell, then in calls (SIGSEGV,
# abort, a stack overflow through infinite recursion)
# stopped-by: sandbox
# expect: cell1=error scale=error guess_target=error guess_suite_token=error add_one=passed
# seconds: 60
import ctypes

ctypes.string_at(0)
# %%
import ctypes
import os
import sys


def scale(x, factor):
    ctypes.string_at(0)


def guess_target():
    os.abort()


def guess_suite_token():
    sys.setrecursionlimit(10**8)

    def deeper(n):
        return deeper(n + 1) + 1

    return deeper(0)
