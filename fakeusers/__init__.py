"""fakeusers: find the fake users in a marketplace's click logs."""

from __future__ import annotations

from fakeusers.errors import FakeusersError

__all__ = ["DEFAULT_MODEL", "MODEL_TYPES", "FakeusersError", "__version__"]
__version__ = "0.1.0"

# Here rather than in fakeusers.models so the command line can offer them without importing
# scikit-learn (over a second) before it has work for it.
MODEL_TYPES = ("logistic", "boosting")
DEFAULT_MODEL = "logistic"
