# attack: write files outside the sandbox: home, /tmp, /var/tmp, /dev/shm, the notebook's folder,
# the repository, and overwrite a sentinel file the grader owns
# stopped-by: bwrap
# expect: add_one=passed
# seconds: 40
import os

TARGETS = [
    os.path.expanduser("~/@@MARK@@"),
    "/root/@@MARK@@",
    "/tmp/@@MARK@@",
    "/var/tmp/@@MARK@@",
    "/dev/shm/@@MARK@@",
    "@@NOTEBOOK_DIR@@/@@MARK@@",
    "@@REPO@@/@@MARK@@",
    "@@COURSE@@/@@MARK@@",
]

for target in TARGETS:
    try:
        with open(target, "w") as handle:
            handle.write("pwned")
        print("wrote", target)
    except OSError as exc:
        print("refused", target, type(exc).__name__)

try:
    with open("@@SENTINEL@@", "w") as handle:
        handle.write("overwritten")
    print("ATTACK-SUCCEEDED overwrote the sentinel")
except OSError:
    pass
for victim in ("@@SENTINEL@@", "@@NOTEBOOK_DIR@@"):
    try:
        os.remove(victim) if os.path.isfile(victim) else os.rename(victim, victim + "-@@MARK@@")
        print("ATTACK-SUCCEEDED removed or renamed", victim)
    except OSError:
        pass
