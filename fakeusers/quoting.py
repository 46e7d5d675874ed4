"""Values from a log inside a message: quoted, cut to a readable length, a few at a time.

A field may be megabytes long or hold control characters; errors and warnings show users'
values through :func:`quote` and :func:`shown`, so one bad field cannot flood a terminal or
a page.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["EXAMPLES", "quote", "shown"]

#: How many values (or line numbers) a message lists before it says how many more there are.
EXAMPLES = 5
_SHOWN_CHARS = 40


def quote(value: str) -> str:
    """``value`` quoted for a message, cut to a readable length.

    Examples
    --------
    >>> quote("click_ad")
    "'click_ad'"
    >>> quote("x" * 50)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'..."
    """
    if len(value) > _SHOWN_CHARS:
        return repr(value[:_SHOWN_CHARS]) + "..."
    return repr(value)


def shown(values: Sequence[str]) -> str:
    """A few values for a message: plain when short and printable, else quoted and cut.

    Examples
    --------
    >>> shown(["a", "b\\n"])
    "a, 'b\\\\n'"
    >>> shown([str(i) for i in range(7)])
    '0, 1, 2, 3, 4 and 2 more'
    """
    out = [v if len(v) <= _SHOWN_CHARS and v.isprintable() else quote(v) for v in values[:EXAMPLES]]
    more = len(values) - EXAMPLES
    return ", ".join(out) + (f" and {more:,} more" if more > 0 else "")
