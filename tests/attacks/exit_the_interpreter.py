# attack: leave the interpreter during execution: sys.exit and raise SystemExit in cells, os._exit
# in a cell, and exits, KeyboardInterrupt and SIGKILL-to-self during calls
# stopped-by: sandbox
# expect: cell1=error cell2=error cell3=error cell4=ok scale=error guess_target=error guess_suite_token=error guess_solution_token=error add_one=passed
# seconds: 90
import sys

sys.exit(0)
# %%
raise SystemExit("bye")
# %%
import os

os._exit(0)
# %%
import os
import signal
import sys


def scale(x, factor):
    sys.exit(0)


def guess_target():
    os._exit(1)


def guess_suite_token():
    raise KeyboardInterrupt


def guess_solution_token():
    os.kill(os.getpid(), signal.SIGKILL)
