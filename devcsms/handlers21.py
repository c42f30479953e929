"""The default answers of the development CSMS to an OCPP 2.1 charging station: the 2.0.1 ones
(`handlers201.Ocpp2Answers`, built from the library's v21 call_result dataclasses) on the library's v21
ChargePoint, plus NotifySettlement (C18/C24, /work/shared/reference/ocpp201-rules.md §9).

NotifySettlement is answered empty, or with a receiptUrl when the CSMS is configured to make receipts
(`DevCsms(receipt_url=...)`, `policy.ReceiptPolicy`; the answer's receiptUrl is optional, "when the CSMS
makes the receipt"); tests read what the station reported from the record (`DevCsms.settlements`).
Frames that must be refused never reach these handlers (`devcsms.v21.refusal`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ocpp.v21
from ocpp.routing import on
from ocpp.v21.enums import Action

from devcsms.handlers201 import Ocpp2Answers


@dataclass
class _SettlementAnswer:
    """NotifySettlementResponse with its camelCase name as the field name. The library's
    `call_result.NotifySettlement(receipt_url=...)` goes out as "receiptURL" (ocpp 2.1.0's
    snake_to_camel_case turns every "_url" into "URL", meant for names like ResponderURL), which the
    2.1 schema refuses; a name without "_" passes through unchanged. None is left out of the answer."""

    receiptUrl: str | None = None  # noqa: N815 (the wire name, see above)


class Ocpp21Handlers(Ocpp2Answers, ocpp.v21.ChargePoint):
    """The 2.1 answers of one connection."""

    @on(Action.notify_settlement)
    def _on_notify_settlement(self, psp_ref: str, **_: Any):
        receipt = self._policies.receipts.answer(self.id, psp_ref)
        return _SettlementAnswer(receiptUrl=receipt.get("receiptUrl"))
