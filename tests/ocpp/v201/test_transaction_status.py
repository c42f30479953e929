"""GetTransactionStatus (E14) over the real durable outbox and the real 2.0.1 adapter:
messagesInQueue says whether transaction messages still wait, for one transaction or
all; ongoingIndicator whether that transaction still runs."""

from __future__ import annotations

from firmware.core import effects as fx
from firmware.ocpp.mapping import StationInfo
from firmware.ocpp.outbox import Outbox, RetryPolicy
from firmware.ocpp.v201.adapter import V201Adapter
from firmware.ocpp.v201.inbound import V201InboundDispatcher
from firmware.store import db, repositories as repo
from tests.ocpp.v201.station_rig import Rig

T0 = 1_767_225_600.0


def queue(adapter, conn, effect):
    with db.atomic(conn):
        action, payload = adapter.queued_message(effect, conn)
        repo.outbox_append(conn, action, effect.local_tx_id, payload, T0, "ocpp2.0.1")
    return payload


async def test_transaction_status_follows_the_queue_and_the_transaction(tmp_path):
    conn = db.open_database(tmp_path / "state")
    adapter = V201Adapter(StationInfo("Borne", "Pi"), conn)
    outbox = Outbox(conn, lambda: RetryPolicy(3, 60.0), protocol="ocpp2.0.1",
                    csms_assigns_transaction_ids=False)
    rig = Rig(tmp_path / "auth")
    try:
        dispatcher = V201InboundDispatcher(rig.runtime, rig.auth, adapter, queue=outbox)
        rig.dispatcher = dispatcher
        rig.boot()
        started = queue(adapter, conn, fx.SendTransactionStarted(1, 1, "CARD01", 1000, T0))
        transaction_id = started["transactionInfo"]["transactionId"]
        assert await rig.result("GetTransactionStatus", {"transactionId": transaction_id}) == {
            "messagesInQueue": True, "ongoingIndicator": True}
        assert await rig.result("GetTransactionStatus", {}) == {"messagesInQueue": True}
        assert await rig.result("GetTransactionStatus", {"transactionId": "9-1"}) == {
            "messagesInQueue": False, "ongoingIndicator": False}
        with db.atomic(conn):
            repo.outbox_discard_other_than(conn, "none")      # as if all were delivered
        queue(adapter, conn, fx.SendTransactionEnded(1, 1100, T0 + 60, "Local", "CARD01"))
        assert await rig.result("GetTransactionStatus", {"transactionId": transaction_id}) == {
            "messagesInQueue": True, "ongoingIndicator": False}
    finally:
        rig.close()
        conn.close()
