"""tensorgrade's generic grading engine: notebooks in, sandboxed execution, hidden pytest suites,
rubric scoring and misconception reports out."""

__version__ = "0.1.0"


def grade(notebook, slug, **options):
    """Grade a notebook (path or bytes) for an assignment; see autograder.grading.grade."""
    from autograder.grading import grade as _grade

    return _grade(notebook, slug, **options)


__all__ = ["__version__", "grade"]
