"""InvalidMessages security events, coalesced (security-whitepaper.md §7: not critical;
a flood of malformed frames must not fill the security log or the outbox)."""

from firmware.ocpp.invalid_messages import InvalidMessageReporter


class Clock:
    def __init__(self):
        self.now_s = 100.0

    def __call__(self):
        return self.now_s


def test_the_first_bad_frame_is_reported_at_once():
    sent, clock = [], Clock()
    InvalidMessageReporter(sent.append, clock).saw("FormationViolation: not JSON")
    assert [(e.kind, e.tech_info) for e in sent] == [
        ("InvalidMessages", "malformed frame from the CSMS: FormationViolation: not JSON")]


def test_a_flood_gives_one_event_per_window_with_the_count():
    sent, clock = [], Clock()
    reporter = InvalidMessageReporter(sent.append, clock, window_s=60)
    for _ in range(10_000):
        reporter.saw("ProtocolError: bad")
        clock.now_s += 0.001
    assert len(sent) == 1
    clock.now_s += 60
    reporter.saw("ProtocolError: last")
    assert len(sent) == 2
    assert sent[1].tech_info.startswith("10000 malformed frames") and "last" in sent[1].tech_info
    assert all(len(e.tech_info) <= 255 for e in sent)
