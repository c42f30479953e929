"""The default answers of the development CSMS to an OCPP 2.1 charging station: the 2.0.1 ones
(`handlers201.Ocpp2Answers`, built from the library's v21 call_result dataclasses) on the library's v21
ChargePoint, plus NotifySettlement (C18/C24, /work/shared/reference/ocpp201-rules.md §9).

NotifySettlement is answered empty: the development CSMS makes no receipts (a receiptUrl/receiptId in
the answer is optional, "when the CSMS makes the receipt"); tests read what the station reported from
the record (`DevCsms.settlements`). Frames that must be refused never reach these handlers
(`devcsms.v21.refusal`).
"""

from __future__ import annotations

from typing import Any

import ocpp.v21
from ocpp.routing import on
from ocpp.v21.enums import Action

from devcsms.handlers201 import Ocpp2Answers


class Ocpp21Handlers(Ocpp2Answers, ocpp.v21.ChargePoint):
    """The 2.1 answers of one connection."""

    @on(Action.notify_settlement)
    def _on_notify_settlement(self, **_: Any):
        return self._call_result.NotifySettlement()
