"""Exceptions raised by the sandbox client; the grading plugin maps them to test statuses."""


class SandboxError(Exception):
    """Base class: something about the student's code, not the grader, went wrong."""


class NotDefined(SandboxError):
    """The notebook does not define the requested name (status `not_implemented`)."""


class StudentNotImplemented(SandboxError):
    """The student's function still raises NotImplementedError (status `not_implemented`)."""


class StudentError(SandboxError):
    """The student's code raised; `trace` holds the traceback of their cells only."""

    def __init__(self, message: str, trace: str = ""):
        super().__init__(message)
        self.trace = trace


class SandboxTimeout(SandboxError):
    """The call or cell ran past its wall-clock limit; the worker was killed."""


class SandboxCrashed(SandboxError):
    """The worker died (segfault, exit, out of memory) or broke the protocol."""


class BadReturn(SandboxError):
    """The student's function returned something that is not plain data (tensors, numbers, ...)."""
