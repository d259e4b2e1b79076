"""The exceptions salescycle raises: one class per C status code.

Every error carries the C library's message (which names the function and
what was wrong) and its numeric code::

    try:
        pipeline.fire(deal, "presnt", now)
    except salescycle.NotFoundError as e:
        print(e.code, e)   # 5 sc_pipeline_fire_by_name: ... "presnt"
"""
from typing import Dict, Optional, Type


class Error(Exception):
    """Base class of every salescycle error."""

    code: Optional[int] = None

    def __init__(self, message: str, code: Optional[int] = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidArgumentError(Error):
    code = 3


class NotFoundError(Error):
    code = 5


class AlreadyExistsError(Error):
    code = 6


class PermissionDeniedError(Error):
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


class UnavailableError(Error):
    code = 14


class DataLossError(Error):
    code = 15


class ClosedError(Error):
    """A handle was used after close()."""


_BY_CODE: Dict[int, Type[Error]] = {
    cls.code: cls
    for cls in (InvalidArgumentError, NotFoundError, AlreadyExistsError,
                PermissionDeniedError, ResourceExhaustedError,
                FailedPreconditionError, AbortedError, InternalError,
                UnavailableError, DataLossError)
}


def error_for(code: int, message: str) -> Error:
    """The exception for a C status code (Error itself for codes without a
    class of their own)."""
    cls = _BY_CODE.get(code)
    return cls(message) if cls is not None else Error(message, code)
