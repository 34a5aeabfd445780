# attack: patch numpy's comparisons and Python's builtins (isinstance, type checks, float, str)
# stopped-by: sandbox
# expect: scale=failed guess_solution_token=failed check:rubric-token=failed
# seconds: 40
import builtins
import sys
import types

import numpy
import numpy.testing

numpy.allclose = lambda *args, **kwargs: True
numpy.array_equal = lambda *args, **kwargs: True
numpy.testing.assert_allclose = lambda *args, **kwargs: None
numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones_like(a, dtype=bool)
builtins.isinstance = lambda obj, cls: True
builtins.AssertionError = type("NeverRaised", (Exception,), {})
builtins.abs = lambda value: 0
builtins.all = lambda values: True
builtins.any = lambda values: False

# Fake grader modules, in case the grader imports them from the student's process.
for name in ("autograder", "autograder.testing", "pytest"):
    fake = types.ModuleType(name)
    fake.expect_close = lambda *args, **kwargs: None
    fake.approx = lambda value, *args, **kwargs: value
    sys.modules[name] = fake
