"""SendLocalList 2.0.1 → the payload ``AuthorizationService.send_local_list`` takes.

The authorization store (``firmware.auth``) keeps one local list for both versions, in
the core's idTag terms (CiString20, compared case-insensitively, five statuses). A
2.0.1 list ([S201] SendLocalListRequest: ``versionNumber``, ``updateType``,
``localAuthorizationList`` of ``{idToken{idToken, type}, idTokenInfo{status,
cacheExpiryDateTime, groupIdToken, ...}}``) is translated entry by entry:

- ``idToken.idToken`` → ``idTag``; ``groupIdToken.idToken`` → ``parentIdTag``;
  ``cacheExpiryDateTime`` → ``expiryDate``; no ``idTokenInfo`` → no ``idTagInfo``
  (Differential: remove the entry; Full: the store refuses it as in 1.6).
- ``status``: the 1.6 five pass unchanged; the statuses 2.0.1 adds (NoCredit,
  NotAllowedTypeEVSE, NotAtThisLocation, NotAtThisTime, Unknown — rules §2) are all
  "not allowed to charge" and become Invalid, which the core treats the same way.
- What the store cannot hold makes the whole update fail, nothing applied
  (``Unstorable``; the CSMS gets ``Failed`` with a statusInfo): an idToken longer than
  20 characters (2.0.1 allows 36), and two entries whose idTokens are equal once the
  type is dropped (the store keys by idTag only; 2.0.1 tokens are equal when idToken
  *and* type match, C01.FR.25) — the store answers Failed for such duplicates itself.
- Dropped, because the store has no place for them: ``type``, ``additionalInfo``,
  ``chargingPriority``, ``language1/2``, ``evseId``, ``personalMessage``.
"""

from __future__ import annotations

from typing import Any

from firmware.core.idtag import ID_TAG_MAX_CHARS
from firmware.errors import OcppError

STORED_STATUSES = frozenset({"Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"})


class Unstorable(OcppError):
    """A valid 2.0.1 list the store cannot hold; ``reason_code`` ≤ 20 characters for
    the response's statusInfo. Never a CALLERROR: the payload is valid 2.0.1."""

    def __init__(self, reason_code: str, why: str) -> None:
        super().__init__(why)
        self.reason_code = reason_code[:20]
        self.why = why


def as_stored_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The store's SendLocalList payload for a schema-valid 2.0.1 ``payload``.
    Raises ``Unstorable``."""
    out: dict[str, Any] = {"listVersion": payload["versionNumber"],
                           "updateType": payload["updateType"]}
    entries = payload.get("localAuthorizationList")
    if entries is not None:
        out["localAuthorizationList"] = [_entry(index, item)
                                         for index, item in enumerate(entries)]
    return out


def _entry(index: int, item: dict[str, Any]) -> dict[str, Any]:
    tag = _tag(index, "idToken", item["idToken"])
    entry: dict[str, Any] = {"idTag": tag}
    info = item.get("idTokenInfo")
    if info is not None:
        status = info["status"]
        stored: dict[str, Any] = {"status": status if status in STORED_STATUSES else "Invalid"}
        if "cacheExpiryDateTime" in info:
            stored["expiryDate"] = info["cacheExpiryDateTime"]
        if "groupIdToken" in info:
            stored["parentIdTag"] = _tag(index, "groupIdToken", info["groupIdToken"])
        entry["idTagInfo"] = stored
    return entry


def _tag(index: int, field: str, token: dict[str, Any]) -> str:
    value: str = token["idToken"]
    if len(value) > ID_TAG_MAX_CHARS:
        raise Unstorable("IdTokenTooLong",
                         f"localAuthorizationList/{index}: {field} longer than "
                         f"{ID_TAG_MAX_CHARS} characters, which the local list cannot hold")
    return value
