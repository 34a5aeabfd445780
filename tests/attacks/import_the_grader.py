# attack: import the grader itself and ask its registry for the rubric, the suite and the solution
# stopped-by: bwrap
# expect: guess_solution_token=failed guess_target=failed check:rubric-token=failed
# seconds: 40
import os
import sys

os.environ["TENSORGRADE_COURSE_DIR"] = "@@COURSE@@"
for path in ("@@REPO@@", "/work/main"):
    if path not in sys.path:
        sys.path.insert(0, path)

try:
    import autograder.registry as registry
    from safetensors.torch import load_file

    rubric = registry.get_rubric("toy_attacks")
    solution = registry.load_solution(rubric)
    print("ATTACK-SUCCEEDED imported the grader")
    check_token = next(check.expected for check in rubric.checks if check.variable == "check_token")
    _target = load_file(str(registry.resolve(rubric.suite) / "references.safetensors"))["hidden.target"]

    def guess_solution_token():
        return solution.SOLUTION_TOKEN

    def guess_target():
        return _target
except Exception as exc:  # the grader is not there: keep the honest (wrong) answers
    print("import failed:", type(exc).__name__)
