# attack: read the reference solution by path (solutions/ folders) and the rubric's expected answers
# stopped-by: bwrap
# expect: guess_solution_token=failed check:rubric-token=failed
# seconds: 40
import glob
import re

CANDIDATES = [
    "@@COURSE@@/solutions/toy_attacks.py",
    "@@REPO@@/solutions/*.py",
    "@@REPO@@/tests/fixtures/*/solutions/*.py",
    "/work/*/solutions/*.py",
    "/**/solutions/toy_attacks.py",
]


def _grep(patterns, regex):
    for pattern in patterns:
        for path in glob.glob(pattern, recursive=True):
            try:
                text = open(path, errors="ignore").read()
            except OSError:
                continue
            match = re.search(regex, text)
            if match:
                print("ATTACK-SUCCEEDED read", path)
                return match.group(1)
    return None


def guess_solution_token():
    return _grep(CANDIDATES[:4], r'SOLUTION_TOKEN = "([^"]+)"') or "unknown"


check_token = _grep(["@@COURSE@@/rubrics/*.yaml", "@@REPO@@/rubrics/*.yaml"], r'expected: "(rubric-canary-[^"]+)"') or "unknown"
