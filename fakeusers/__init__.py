"""fakeusers: find the fake users in a marketplace's click logs."""

from __future__ import annotations

from fakeusers.errors import FakeusersError

__all__ = ["FakeusersError", "__version__"]
__version__ = "0.1.0"
