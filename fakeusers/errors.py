"""The one exception the library raises for problems a user can fix."""

from __future__ import annotations

__all__ = ["FakeusersError", "InputTooLargeError"]


class FakeusersError(Exception):
    """A problem with the user's input, model or request, phrased for that user.

    The message names the file (and line or column where it can), says what is
    wrong and what to do. The CLI prints it as one line, the dashboard shows it
    with ``st.error`` and the API returns it in a 4xx response.
    """


class InputTooLargeError(FakeusersError):
    """A log larger than the configured limit (the API answers it with 413)."""
