"""fakeusers: find the fake users in a marketplace's click logs."""

from __future__ import annotations

from fakeusers.errors import FakeusersError

__all__ = ["DEFAULT_MODEL", "MODEL_TYPES", "OVERLAPS", "FakeusersError", "__version__"]
__version__ = "0.1.0"

# Here rather than in fakeusers.models so the command line can offer them without importing
# scikit-learn (over a second) before it has work for it.
MODEL_TYPES = ("logistic", "boosting")
DEFAULT_MODEL = "logistic"

#: What :func:`fakeusers.reading.read_logs` does with a user whose rows in one file repeat
#: those of an earlier file exactly: keep one copy (the default), or keep both. Here for the
#: same reason: the command line offers the choice without importing the reader.
OVERLAPS = ("keep_one", "keep_all")
