"""What survives a page reload: the session's choices in the URL, its data on the server.

A reload (or a bookmark) starts a new Streamlit session with empty state. So after every run
the URL's query parameters record what the analyst chose — an opaque key of the loaded log,
the active model (``name@version``, or the key of a model trained here and not saved), the
other candidate models the same way, the costs, the rule and K, the user shown up close,
the analyst's name (typed, not verified) — and at the start of a new session :func:`restore`
takes them back.
The logs and unsaved models themselves stay on the server, in a small registry keyed on those
keys (the log's key is 128 bits of the sha256 of its content, so it cannot be guessed), and
the page is in the URL's path already.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

import streamlit as st

from fakeusers.errors import FakeusersError
from fakeusers.store import ModelStore
from views import _state as state

DATA, MODEL, COST_FP, COST_FN, RULE, TOP_K, THRESHOLD = "data", "model", "m", "f", "rule", "k", "t"
USER, CANDIDATES = "user", "candidates"
ANALYST = "analyst"
_RULES = {state.RULE_COSTS: "costs", state.RULE_TOP_K: "top", state.RULE_THRESHOLD: "typed"}
_RESTORED = "url_restored"
_KEPT = 32  # logs and unsaved models kept for reloads, the oldest dropped first


class _Registry:
    """Logs and unsaved models of every session, by key, for sessions that come back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, OrderedDict[str, Any]] = {DATA: OrderedDict(), MODEL: OrderedDict()}

    def keep(self, kind: str, key: str, value: Any) -> None:
        with self._lock:
            items = self._items[kind]
            items[key] = value
            items.move_to_end(key)
            while len(items) > _KEPT:
                items.popitem(last=False)

    def get(self, kind: str, key: str | None) -> Any:
        with self._lock:
            return self._items[kind].get(key) if key else None


@st.cache_resource
def _registry() -> _Registry:
    return _Registry()


def _data_key(loaded: state.Dataset) -> str:
    return loaded.key[:32]


def remember() -> None:
    """Write the session's choices into the URL, and keep its log and unsaved models."""
    params: dict[str, str] = {}
    loaded, current = state.dataset(), state.active_model()
    if loaded is not None:
        _registry().keep(DATA, _data_key(loaded), loaded)
        params[DATA] = _data_key(loaded)
    if current is not None:
        if current.name is None:
            _registry().keep(MODEL, current.key, current)
        params[MODEL] = current.name or current.key
    others = state.candidates()[1:]
    for other in others:
        if other.name is None:
            _registry().keep(MODEL, other.key, other)
    if others:  # names and keys hold no comma
        params[CANDIDATES] = ",".join(c.name or c.key for c in reversed(others))
    session = st.session_state
    # repr: the shortest text that reads back as exactly the same number
    params[COST_FP] = repr(float(session[state.COST_FP]))
    params[COST_FN] = repr(float(session[state.COST_FN]))
    params[RULE] = _RULES.get(session[state.RULE], "costs")
    if session[state.RULE] == state.RULE_TOP_K:
        params[TOP_K] = str(int(session[state.TOP_K]))
    if session[state.RULE] == state.RULE_THRESHOLD:
        params[THRESHOLD] = repr(float(session[state.THRESHOLD]))
    if session[state.USER] is not None:
        params[USER] = session[state.USER]
    if str(session[state.ANALYST]).strip():
        params[ANALYST] = str(session[state.ANALYST]).strip()
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def restore() -> None:
    """Once per session: take back what the URL names (a reload, a bookmark).

    What cannot be found any more (the server restarted, the model was deleted) is left at
    its default; a value that is not a finite number is ignored.
    """
    session = st.session_state
    if session.get(_RESTORED):
        return
    session[_RESTORED] = True
    query = st.query_params
    loaded = _registry().get(DATA, query.get(DATA))
    if loaded is not None and session[state.DATASET] is None:
        session[state.DATASET] = loaded
    if session[state.MODEL] is None and query.get(MODEL):
        session[state.MODEL] = _model(query[MODEL])
    if not session[state.CANDIDATES] and query.get(CANDIDATES):
        found = [_model(ref) for ref in query[CANDIDATES].split(",")[: state.MAX_CANDIDATES]]
        found.append(session[state.MODEL])
        session[state.CANDIDATES] = tuple(c for c in found if c is not None)
    for param, key, kind in (
        (COST_FP, state.COST_FP, float),
        (COST_FN, state.COST_FN, float),
        (TOP_K, state.TOP_K, int),
        (THRESHOLD, state.THRESHOLD, float),
    ):
        try:
            value = kind(query[param])
        except (KeyError, ValueError):
            continue
        if 0 <= value < math.inf:  # not negative, not infinite, not NaN
            session[key] = value
    if query.get(USER):
        session[state.USER] = query[USER]
    rules = {short: label for label, short in _RULES.items()}
    if query.get(RULE) in rules:
        session[state.RULE] = rules[query[RULE]]
    if query.get(ANALYST) and not session[state.ANALYST]:
        session[state.ANALYST] = query[ANALYST].strip()[:200]


def _model(ref: str) -> state.ActiveModel | None:
    kept = _registry().get(MODEL, ref)
    if kept is not None:
        return kept
    try:
        return state.ActiveModel.stored(ModelStore().load(ref))
    except FakeusersError:
        return None
