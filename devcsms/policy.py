"""What the development CSMS answers by default: registration and authorization decisions, receipts.

All are plain mutable objects that tests change between steps (`csms.authorization.set("BAD", "Blocked")`,
`csms.boot.status = "Pending"`, `csms.receipts.url_template = None`); the station handlers read them at
the moment a request arrives.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

AUTHORIZATION_STATUSES = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")
# OCPP 2.0.1 AuthorizationStatusEnumType adds these; a 1.6 charge point is answered Invalid for them.
AUTHORIZATION_STATUSES_201 = (
    *AUTHORIZATION_STATUSES,
    "NoCredit",
    "NotAllowedTypeEVSE",
    "NotAtThisLocation",
    "NotAtThisTime",
    "Unknown",
)
REGISTRATION_STATUSES = ("Accepted", "Pending", "Rejected")


def rfc3339_utc(moment: datetime | None = None) -> str:
    """`moment` (default: now) as RFC 3339 UTC with millisecond precision and a 'Z', e.g.
    2024-05-01T12:00:01.123Z. A naive datetime is taken to be UTC."""
    moment = moment or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class BootPolicy:
    """The BootNotification.conf to send: `status` and `interval_s`.

    For Accepted, `interval_s` is the heartbeat interval; for Pending/Rejected it is the minimum wait
    before the next BootNotification (OCPP 1.6 §4.2, 2.0.1 B02/B03; 0 lets the charge point choose).
    """

    status: str = "Accepted"
    interval_s: int = 300

    def __post_init__(self) -> None:
        if self.status not in REGISTRATION_STATUSES:
            raise ValueError(f"boot status must be one of {REGISTRATION_STATUSES}, got {self.status!r}")
        if self.interval_s < 0:
            raise ValueError(f"boot interval_s must be >= 0, got {self.interval_s}")


@dataclass(frozen=True)
class TagRule:
    """The answer for one idTag (1.6) or idToken (2.0.1): `status`, optional `parent_id_tag` and `expiry_date`.

    `status` may be any 2.0.1 AuthorizationStatus; 1.6 answers carry Invalid for the 2.0.1-only ones."""

    status: str = "Accepted"
    parent_id_tag: str | None = None
    expiry_date: datetime | None = None

    def __post_init__(self) -> None:
        if self.status not in AUTHORIZATION_STATUSES_201:
            raise ValueError(f"authorization status must be one of {AUTHORIZATION_STATUSES_201}, got {self.status!r}")

    def id_tag_info(self) -> dict:
        """The camelCase IdTagInfo object (OCPP 1.6 §7.24)."""
        info: dict = {"status": self.status if self.status in AUTHORIZATION_STATUSES else "Invalid"}
        if self.parent_id_tag is not None:
            info["parentIdTag"] = self.parent_id_tag
        if self.expiry_date is not None:
            info["expiryDate"] = rfc3339_utc(self.expiry_date)
        return info

    def id_token_info(self) -> dict:
        """The camelCase IdTokenInfoType (OCPP 2.0.1): the parent becomes groupIdToken of type Central
        (C09.FR.13: a GroupIdToken SHOULD be Central), the expiry cacheExpiryDateTime."""
        info: dict = {"status": self.status}
        if self.parent_id_tag is not None:
            info["groupIdToken"] = {"idToken": self.parent_id_tag, "type": "Central"}
        if self.expiry_date is not None:
            info["cacheExpiryDateTime"] = rfc3339_utc(self.expiry_date)
        return info


class AuthorizationPolicy:
    """idTag → TagRule, with `default` for every tag without an override.

    Used for Authorize, StartTransaction and StopTransaction (when it carries an idTag). Tags are compared
    exactly (OCPP idTags are case-insensitive CiString20, but a CSMS that normalises would hide a charge
    point that reformats UIDs; tests should see that).
    """

    def __init__(self, default: TagRule | str = "Accepted", rules: dict[str, TagRule | str] | None = None) -> None:
        self.default = _as_rule(default)
        self._rules: dict[str, TagRule] = {}
        for id_tag, rule in (rules or {}).items():
            self.set(id_tag, rule)

    def set(
        self,
        id_tag: str,
        rule: TagRule | str,
        *,
        parent_id_tag: str | None = None,
        expiry_date: datetime | None = None,
    ) -> None:
        """Override the answer for `id_tag`: a TagRule, or a status plus optional parent and expiry."""
        if isinstance(rule, str):
            rule = TagRule(rule, parent_id_tag=parent_id_tag, expiry_date=expiry_date)
        self._rules[id_tag] = rule

    def forget(self, id_tag: str) -> None:
        """Drop the override for `id_tag` (it gets `default` again)."""
        self._rules.pop(id_tag, None)

    def rule_for(self, id_tag: str) -> TagRule:
        return self._rules.get(id_tag, self.default)

    def id_tag_info(self, id_tag: str) -> dict:
        """The IdTagInfo to answer for `id_tag`."""
        return self.rule_for(id_tag).id_tag_info()

    def id_token_info(self, id_token: str) -> dict:
        """The 2.0.1 IdTokenInfo to answer for the idToken string `id_token` (its type is not compared)."""
        return self.rule_for(id_token).id_token_info()


def _as_rule(rule: TagRule | str) -> TagRule:
    return TagRule(rule) if isinstance(rule, str) else rule


# Borne's payment reports (firmware/ocpp/payment_messages.py, README "Paying by card"):
# the dev CSMS takes them, so `make run` shows a paid session end to end.
PAYMENT_VENDOR_ID = "org.borne.payment"
PAYMENT_MESSAGES = frozenset({"PaymentCost", "PaymentSettled"})


def data_transfer_status(vendor_id: str, message_id: str | None) -> str:
    """DataTransfer answer: Accepted for Borne's payment reports, UnknownMessageId for
    other messages of that vendor, UnknownVendorId for any other vendor."""
    if vendor_id != PAYMENT_VENDOR_ID:
        return "UnknownVendorId"
    return "Accepted" if message_id in PAYMENT_MESSAGES else "UnknownMessageId"


RECEIPT_URL_MAX_CHARS = 2000  # NotifySettlementResponse.receiptUrl (OCPP 2.1 schema)
RECEIPT_URL_FIELDS = frozenset({"station", "psp_ref"})


class ReceiptPolicy:
    """Whether the CSMS makes the receipt of a 2.1 NotifySettlement ("when the CSMS makes the receipt",
    ocpp201-rules.md §9): `url_template` None answers {}; otherwise the answer carries
    `receiptUrl` = the template with `{station}` and `{psp_ref}` replaced (both percent-encoded).

    Raises ValueError for a template that is empty, longer than 2000 characters, or has any other
    replacement field, a conversion or a format spec (checked on every assignment). A URL that would
    exceed 2000 characters (a long pspRef) is left out, never cut: a cut link would be broken."""

    def __init__(self, url_template: str | None = None) -> None:
        self.url_template = url_template

    @property
    def url_template(self) -> str | None:
        return self._url_template

    @url_template.setter
    def url_template(self, template: str | None) -> None:
        if template is not None:
            _check_receipt_template(template)
        self._url_template = template

    def answer(self, station: str, psp_ref: str) -> dict[str, str]:
        """The camelCase NotifySettlementResponse payload for a settlement of `station`."""
        if self._url_template is None:
            return {}
        url = self._url_template.format(station=quote(station, safe=""), psp_ref=quote(psp_ref, safe=""))
        return {"receiptUrl": url} if len(url) <= RECEIPT_URL_MAX_CHARS else {}


def _check_receipt_template(template: str) -> None:
    if not template or len(template) > RECEIPT_URL_MAX_CHARS:
        raise ValueError(f"receipt URL template must have 1-{RECEIPT_URL_MAX_CHARS} characters")
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"receipt URL template {template!r}: {error}") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in RECEIPT_URL_FIELDS or spec or conversion:
            raise ValueError(
                f"receipt URL template {template!r}: only {{station}} and {{psp_ref}} may be replaced, got {{{name}}}"
            )
