"""The exceptions salescycle raises: one class per C status code.

Every error carries the C library's message (which names the function and
what was wrong) and its numeric code::

    try:
        pipeline.fire(deal, "presnt", now)
    except salescycle.NotFoundError as e:
        print(e.code, e)   # 5 sc_pipeline_fire_by_name: ... "presnt"

Each class also derives from the built-in exception a Python caller would
catch for it, so that code that knows nothing of salescycle still handles
it (issue 16): a bad argument, bad bytes or a taken key is a ValueError,
something not found a KeyError, a refused permission a PermissionError, an
I/O failure an OSError, a missing file a FileNotFoundError, a closed
handle a ValueError (as a closed file's).
"""
import errno
import os
from typing import Dict, Optional, Type


class Error(Exception):
    """Base class of every salescycle error."""

    code: Optional[int] = None

    def __init__(self, message: str, code: Optional[int] = None):
        super().__init__(message)
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        # The message as given: KeyError's own str() would quote it.
        return str(self.args[0]) if self.args else ""


class InvalidArgumentError(Error, ValueError):
    code = 3


class NotFoundError(Error, KeyError):
    code = 5


class FileMissingError(NotFoundError, FileNotFoundError):
    """A file that is not there: a NotFoundError, and the FileNotFoundError
    (an OSError) Python code expects for one."""


class AlreadyExistsError(Error, ValueError):
    code = 6


class PermissionDeniedError(Error, PermissionError):
    code = 7


class ResourceExhaustedError(Error):
    code = 8


class FailedPreconditionError(Error):
    code = 9


class AbortedError(Error):
    code = 10


class CallbackError(AbortedError):
    """A Python observer or named guard raised. The steps were applied; the
    callback's own exception is this one's __cause__."""


class InternalError(Error):
    code = 13


class UnavailableError(Error, OSError):
    code = 14


class DataLossError(Error, ValueError):
    code = 15


class ClosedError(Error, ValueError):
    """A handle was used after close()."""


_BY_CODE: Dict[int, Type[Error]] = {
    cls.code: cls
    for cls in (InvalidArgumentError, NotFoundError, AlreadyExistsError,
                PermissionDeniedError, ResourceExhaustedError,
                FailedPreconditionError, AbortedError, InternalError,
                UnavailableError, DataLossError)
}


_NO_SUCH_FILE = os.strerror(errno.ENOENT)


def error_for(code: int, message: str) -> Error:
    """The exception for a C status code (Error itself for codes without a
    class of their own). The library words a missing file as errno does."""
    if code == NotFoundError.code and message.endswith(_NO_SUCH_FILE):
        error = FileMissingError(message)
        error.errno, error.strerror = errno.ENOENT, _NO_SUCH_FILE
        return error
    cls = _BY_CODE.get(code)
    return cls(message) if cls is not None else Error(message, code)
