# attack: `kill -9 -1`: signal every process the sandbox can reach, by syscall and by the kill command
# stopped-by: bwrap
# expect: cell1=error scale=error add_one=passed
# seconds: 60
import subprocess

try:
    subprocess.run(["kill", "-TERM", "-1"], timeout=2)
except Exception:
    pass
# %%
import os
import signal


def scale(x, factor):
    os.kill(-1, signal.SIGKILL)  # everything except ourselves and init
    os.kill(0, signal.SIGKILL)  # and then our own process group, ourselves included
    return x
