"""What the routes depend on: the runtime, the read store, and the API-key check."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from newsflow_enrich.db.read import ReadStore
from newsflow_enrich.runtime import Runtime
from newsflow_schema.http import ProblemError

KEY_HEADER = "X-API-Key"


@dataclass(frozen=True, slots=True)
class Access:
    """The keys that open the read side; none means it is open (the default)."""

    keys: tuple[bytes, ...]

    @classmethod
    def of(cls, keys: frozenset[str]) -> Access:
        return cls(tuple(k.encode("utf-8") for k in sorted(keys)))

    def allows(self, presented: str | None) -> bool:
        if not self.keys:
            return True
        if presented is None:
            return False
        # Starlette decodes header bytes as latin-1: encoding back gives the bytes sent, which
        # match a UTF-8 key from the environment byte for byte.
        given = presented.encode("latin-1", "replace")
        # Every key is compared, in constant time each, so timing tells nothing about which
        # key came close.
        matched = False
        for key in self.keys:
            matched |= hmac.compare_digest(given, key)
        return matched


def presented_key(request: Request) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`, if either is sent."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get(KEY_HEADER)


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def read_store(request: Request) -> ReadStore:
    store: ReadStore = request.app.state.read_store
    return store


def require_key(request: Request) -> None:
    """401 problem+json unless the request carries one of ENRICH_API_KEYS (when set)."""
    access: Access = request.app.state.access
    if not access.allows(presented_key(request)):
        raise ProblemError(
            401,
            "this endpoint needs an API key: send `Authorization: Bearer <key>` or "
            f"`{KEY_HEADER}: <key>` with one of ENRICH_API_KEYS",
            headers={"WWW-Authenticate": 'Bearer realm="newsflow-enrich"'},
        )


RuntimeDep = Annotated[Runtime, Depends(runtime)]
StoreDep = Annotated[ReadStore, Depends(read_store)]
KeyRequired = Depends(require_key)
