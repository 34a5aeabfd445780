# attack: glob for hidden test files (test_*.py) and lift the constant the suite compares against
# stopped-by: bwrap
# expect: guess_suite_token=failed
# seconds: 40
import glob
import os
import re
import time

PATTERN = re.compile(r'SUITE_TOKEN = "([^"]+)"')


def _scan(paths):
    for path in paths:
        try:
            with open(path, errors="ignore") as handle:
                match = PATTERN.search(handle.read())
        except OSError:
            continue
        if match:
            print("ATTACK-SUCCEEDED read", path)
            return match.group(1)
    return None


def guess_suite_token():
    guesses = glob.glob("@@COURSE@@/suites/**/test_*.py", recursive=True)
    guesses += glob.glob("@@REPO@@/**/suites/**/test_*.py", recursive=True)
    found = _scan(guesses)
    if found:
        return found
    deadline = time.monotonic() + 1.5
    for root, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        if time.monotonic() > deadline:
            break
        found = _scan(os.path.join(root, f) for f in files if f.startswith("test_") and f.endswith(".py"))
        if found:
            return found
    return "unknown"
