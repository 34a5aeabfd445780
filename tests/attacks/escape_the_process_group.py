# attack: leave a daemon behind: double fork, setsid, ignore SIGTERM/SIGHUP, then write into the
# notebook's folder after the grading is over
# stopped-by: sandbox
# expect: add_one=passed
# seconds: 40
import os
import signal
import time


def _daemon():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                signal.signal(sig, signal.SIG_IGN)
            time.sleep(6)
            try:
                with open("@@NOTEBOOK_DIR@@/late-@@MARK@@", "w") as handle:
                    handle.write("still alive")
            except OSError:
                pass
            os._exit(0)
        os._exit(0)


_daemon()


def scale(x, factor):
    _daemon()
    return x
