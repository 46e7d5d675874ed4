"""Who is calling: API keys (:mod:`fakeusers.keys`) checked before any work.

While no key exists the API is open, as it always was on this machine's loopback; once one
exists, every endpoint but ``/health`` and the docs needs ``Authorization: Bearer KEY``: 401
without a valid key, 403 when the key's scope does not allow the call. When the review
database cannot be read the keys cannot be checked, and the API answers 503 rather than
letting anyone in.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from fakeusers.keys import ApiKey, KeyStore, allows

__all__ = ["needs"]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def needs(scope: str) -> Any:
    """A dependency that lets a call through only with a key of ``scope`` (or more), once
    keys exist; it gives the key (None while the API is open)."""

    async def check(request: Request) -> ApiKey | None:
        keys = KeyStore(request.app.state.db)
        if not await run_in_threadpool(keys.any_active):
            return None
        kind, _, token = request.headers.get("authorization", "").partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise HTTPException(
                401,
                "This API needs a key: send the header 'Authorization: Bearer KEY'. An admin "
                f"makes one with: python -m fakeusers keys add NAME --scope {scope}",
                headers=_CHALLENGE,
            )
        key = await run_in_threadpool(keys.authenticate, token.strip())
        if key is None:
            raise HTTPException(
                401,
                "The key is not valid: unknown or revoked. Ask an admin for a key "
                "(python -m fakeusers keys list shows which are in use).",
                headers=_CHALLENGE,
            )
        if not allows(key.scope, scope):
            raise HTTPException(
                403,
                f"The key {key.name!r} has the scope {key.scope!r}; this call needs {scope!r} "
                f"or more. Ask an admin for a key with that scope.",
            )
        return key

    return Depends(check)
