"""Running untrusted student code in a separate process, reached over a data-only protocol."""

from autograder.sandbox.client import RemoteObject, StateDictMismatch, Submission, Timeouts
from autograder.sandbox.errors import (
    BadReturn,
    NotDefined,
    SandboxCrashed,
    SandboxError,
    SandboxTimeout,
    StudentError,
    StudentNotImplemented,
)
from autograder.sandbox.process import Limits

__all__ = [
    "BadReturn", "Limits", "NotDefined", "RemoteObject", "SandboxCrashed", "SandboxError",
    "SandboxTimeout", "StateDictMismatch", "StudentError", "StudentNotImplemented", "Submission", "Timeouts",
]
