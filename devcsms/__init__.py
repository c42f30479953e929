"""Development CSMS: an OCPP 1.6J, 2.0.1 and 2.1 central system that drives and checks the Borne agent.

`DevCsms` for tests and `python -m devcsms` for humans; `devcsms.devrun` is the launcher behind `make run`.
"""

from devcsms.policy import AuthorizationPolicy, BootPolicy, TagRule
from devcsms.recording import FROM_CP, TO_CP, Frame, WaitTimeout
from devcsms.scripting import CallError, Delay, Disconnect, NoAnswer, Reply
from devcsms.server import ConnectionRecord, DevCsms, RefusedHandshake
from devcsms.settlements import SettlementView
from devcsms.station import CallErrorReceived, StationNotConnected
from devcsms.transactions import TransactionEventsView, TransactionView
from devcsms.validation import CALL, CALLERROR, CALLRESULT

__all__ = [
    "AuthorizationPolicy",
    "BootPolicy",
    "CALL",
    "CALLERROR",
    "CALLRESULT",
    "CallError",
    "CallErrorReceived",
    "ConnectionRecord",
    "Delay",
    "DevCsms",
    "Disconnect",
    "FROM_CP",
    "Frame",
    "NoAnswer",
    "RefusedHandshake",
    "Reply",
    "SettlementView",
    "StationNotConnected",
    "TO_CP",
    "TagRule",
    "TransactionEventsView",
    "TransactionView",
    "WaitTimeout",
]
