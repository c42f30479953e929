"""The OCPP 2.x versions the ``v201`` package speaks, as data (issue 12 item 4).

OCPP 2.1 is 2.0.1 with more messages and wider fields: none of 2.0.1's 64 actions is
gone and their 2.0.1 payloads stay valid (the ``ocpp`` 2.1.0 library's v21 schemas; the
tests check every payload Borne sends against both). So one adapter, codec and dispatcher
serve both, and what differs is here:

- ``subprotocol``: the websocket subprotocol ("ocpp2.0.1", "ocpp2.1"), also the tag of
  every outbox row;
- ``schema_package``: the ``ocpp`` package folder with the version's JSON schemas
  (``ocpp/v201/schemas``, ``ocpp/v21/schemas``);
- ``id_token_types``: the IdTokenEnumType values it knows. 2.1 adds DirectPayment ("IdToken
  from a payment terminal that authorized a payment card", [DM21] idtokenenumtype.csv),
  EVCCID and VIN; a token the core presents with a type the version lacks goes out as
  Local (a locally authorised token, which is what a card payment is to 2.0.1);
- ``settles_payments``: the station reports a payment's end with NotifySettlement (2.1
  C18, ocpp201-rules.md §9) and its cost in TransactionEvent.costDetails; 2.0.1 carries
  both in the documented DataTransfer (``firmware.ocpp.payment_messages``);
- ``unanswered_message_types``: MessageTypeIds beyond CALL/CALLRESULT/CALLERROR that are
  never answered: 2.1's CALLRESULTERROR (5) and SEND (6), our reading of OCPP-J 2.1 §4.2
  (the reference file names SEND only); in 2.0.1 they are unknown types.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ocpp2Version:
    subprotocol: str
    label: str
    schema_package: str
    id_token_types: frozenset[str]
    settles_payments: bool
    unanswered_message_types: frozenset[int] = frozenset()

    def token_type(self, presented_as: str) -> str:
        """The idToken.type to send for a token the core presented as ``presented_as``."""
        return presented_as if presented_as in self.id_token_types else "Local"


_TYPES_201 = frozenset({"Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local",
                        "MacAddress", "NoAuthorization"})

V201 = Ocpp2Version("ocpp2.0.1", "2.0.1", "v201", _TYPES_201, settles_payments=False)
V21 = Ocpp2Version("ocpp2.1", "2.1", "v21", _TYPES_201 | {"DirectPayment", "EVCCID", "VIN"},
                   settles_payments=True, unanswered_message_types=frozenset({5, 6}))

VERSIONS = {version.subprotocol: version for version in (V201, V21)}


def by_package(package: str) -> Ocpp2Version:
    """The version whose schemas are ``ocpp/<package>`` (2.0.1 for an unknown one)."""
    return next((v for v in VERSIONS.values() if v.schema_package == package), V201)
