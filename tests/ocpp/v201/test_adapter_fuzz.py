"""Seeded, shrinking checks of the 2.0.1 adapter (ocpp201-rules.md §3: seqNo is an
"incremental sequence number" per transaction, gap-free, kept across restarts).

1. Any interleaving of transactions on two EVSEs, with restarts (a new adapter over the
   reopened database) and commits that fail, gives every transaction the seqNos
   0, 1, 2, ... in order, one transactionId, Started first and Ended last.
2. Whatever the CSMS puts in an answer's idTokenInfo, the adapter gives core events and
   never raises.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.ocpp.mapping import StationInfo
from firmware.ocpp.outbox import ReadyMessage
from firmware.ocpp.v201.adapter import V201Adapter
from firmware.store import db

FUZZ = settings(derandomize=True, database=None, max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])
T0 = 1_767_225_600.0
INFO = StationInfo("Borne", "AC-22")
STATUSES_16 = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")  # the core's
ENERGY = fx.SampledValue("10", "Energy.Active.Import.Register", "Sample.Periodic", "Wh")

# (step, evse): "start" / "sample" / "stop" on an EVSE, "restart", "rollback" (the next
# message's commit fails).
STEPS = st.lists(st.tuples(st.sampled_from(["start", "sample", "sample", "stop", "restart",
                                            "rollback"]), st.sampled_from([1, 2])),
                 max_size=40)


class Failed(Exception):
    pass


@FUZZ
@given(steps=STEPS)
def test_seq_nos_are_gap_free_per_transaction_through_restarts_and_rollbacks(tmp_path_factory,
                                                                            steps):
    state = tmp_path_factory.mktemp("db")
    conn = db.open_database(state)
    adapter = V201Adapter(INFO, conn)
    running: dict[int, int] = {}  # evse -> local tx id
    next_local = 1
    sent: dict[str, list[dict]] = {}
    fail_next = False
    try:
        for n, (step, evse) in enumerate(steps):
            if step == "restart":
                conn.close()
                conn = db.open_database(state)
                adapter = V201Adapter(INFO, conn)
                continue
            if step == "rollback":
                fail_next = True
                continue
            if step == "start":
                if evse in running:
                    continue
                effect: fx.SendMessage = fx.SendTransactionStarted(next_local, evse, "TAG", 0,
                                                                   T0 + n)
            elif evse not in running:
                continue
            elif step == "sample":
                effect = fx.SendMeterSamples(evse, (fx.MeterSample(T0 + n, (ENERGY,)),),
                                             running[evse])
            else:
                effect = fx.SendTransactionEnded(running[evse], 10, T0 + n, "Local", "TAG")
            try:
                with db.atomic(conn):
                    message = adapter.queued_message(effect, conn)
                    if fail_next:
                        raise Failed()
            except Failed:
                fail_next = False
                continue  # the core's state did not change either: nothing happened
            assert message is not None
            payload = message[1]
            sent.setdefault(payload["transactionInfo"]["transactionId"], []).append(payload)
            if step == "start":
                running[evse] = next_local
                next_local += 1
            elif step == "stop":
                del running[evse]
    finally:
        conn.close()
    for events in sent.values():
        assert [e["seqNo"] for e in events] == list(range(len(events)))
        assert events[0]["eventType"] == "Started"
        assert all(e["eventType"] != "Started" for e in events[1:])
        assert all(e["eventType"] != "Ended" for e in events[:-1])


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
TOKEN_INFO = JSON | st.fixed_dictionaries({}, optional={
    "status": st.text(max_size=20) | st.sampled_from(["Accepted", "NoCredit", "Blocked"]),
    "cacheExpiryDateTime": JSON | st.sampled_from(["2026-01-01T00:00:00Z", "2026-13-45"]),
    "groupIdToken": JSON | st.fixed_dictionaries({"idToken": JSON}),
})


@FUZZ
@given(info=TOKEN_INFO, event_type=st.sampled_from(["Started", "Updated", "Ended"]),
       total_cost=JSON)
def test_any_id_token_info_gives_core_events_and_never_raises(tmp_path_factory, info,
                                                               event_type, total_cost):
    conn = db.open_database(tmp_path_factory.mktemp("db"))
    try:
        adapter = V201Adapter(INFO, conn)
        request = fx.SendAuthorizationRequest("r", "TAG")
        events = adapter.answered(request, {"idTokenInfo": info})
        assert len(events) == 1 and events[0].info.status in STATUSES_16
        payload = {"eventType": event_type, "idToken": {"idToken": "TAG", "type": "ISO14443"}}
        for event in adapter.queued_answered(
                ReadyMessage(1, "TransactionEvent", 1, payload, 0, T0),
                {"idTokenInfo": info, "totalCost": total_cost}):
            if isinstance(event, ev.CsmsCostReported):   # block I: the Ended's only
                assert event_type == "Ended" and event.final
                assert event.total_cost is None or isinstance(event.total_cost, Decimal)
                continue
            assert isinstance(event, (ev.TransactionStartAnswered, ev.TransactionEndAnswered))
            assert event.info is None or event.info.status in STATUSES_16
    finally:
        conn.close()
