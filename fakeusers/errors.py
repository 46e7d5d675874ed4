"""The exceptions the library raises for problems a user can fix.

Every face translates them the same way: the command line prints the message as one
``error:`` line and exits with status 2, the API answers with the status named below, and
the dashboard shows the message on the page.
"""

from __future__ import annotations

__all__ = [
    "BusyError",
    "DatabaseUnavailableError",
    "FakeusersError",
    "InputTooLargeError",
    "ModelExistsError",
    "ModelNotFoundError",
    "ModelUnusableError",
    "StoreUnavailableError",
]


class FakeusersError(Exception):
    """A problem with the user's input, model or request, phrased for that user (API: 422).

    The message names the file (and line or column where it can), says what is
    wrong and what to do.
    """


class InputTooLargeError(FakeusersError):
    """A log or request larger than the configured limit (API: 413)."""


class ModelNotFoundError(FakeusersError):
    """No model (or no such version) under that name, or no model at all (API: 404)."""


class ModelExistsError(FakeusersError):
    """A save would add to a name that is taken, and replacing was not asked for (API: 409)."""


class ModelUnusableError(FakeusersError):
    """A stored model that cannot be loaded: broken, unsafe or from an old format (API: 409)."""


class StoreUnavailableError(FakeusersError):
    """The model store cannot be read or written (API: 503)."""


class DatabaseUnavailableError(FakeusersError):
    """The review database (verdicts, audit trail) cannot be opened, read or written
    (API: 503). Scoring does not depend on it."""


class BusyError(FakeusersError):
    """Too much of one kind of work at once: try again later (API: 429 with Retry-After).

    Attributes
    ----------
    retry_after : int
        Seconds after which trying again is sensible.
    """

    def __init__(self, message: str, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after
