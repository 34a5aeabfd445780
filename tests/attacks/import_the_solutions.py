# attack: import the solutions package and the module name the grader loads the solution under
# stopped-by: bwrap
# expect: guess_solution_token=failed scale=failed
# seconds: 40
import importlib
import importlib.util
import sys

_stolen = None
for name in ("tensorgrade_solution_toy_attacks", "solutions.toy_attacks", "solutions", "toy_attacks"):
    try:
        _stolen = sys.modules.get(name) or importlib.import_module(name)
        if hasattr(_stolen, "SOLUTION_TOKEN"):
            break
    except Exception:
        _stolen = None

for path in ("@@COURSE@@/solutions/toy_attacks.py", "@@REPO@@/tests/fixtures/toycourse/solutions/toy_attacks.py"):
    if _stolen is not None and hasattr(_stolen, "SOLUTION_TOKEN"):
        break
    try:
        spec = importlib.util.spec_from_file_location("stolen", path)
        _stolen = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_stolen)
    except Exception:
        _stolen = None

if _stolen is not None and hasattr(_stolen, "SOLUTION_TOKEN"):
    print("ATTACK-SUCCEEDED imported the solution")
    scale = _stolen.scale

    def guess_solution_token():
        return _stolen.SOLUTION_TOKEN
