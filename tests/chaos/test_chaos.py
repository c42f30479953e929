"""Fault injection against the real agent process (``make chaos``; a short run in ``make test``).

BORNE_CHAOS_CYCLES sets the number of cycles (default 6 here, 200 under ``make chaos``);
BORNE_CHAOS_SEED replays a run. The test prints one line::

    cycles=N transactions=N lost=0 duplicates=N reordered=0
"""

from __future__ import annotations

import os
import random

import pytest

from .chaos_run import run_chaos

CYCLES = int(os.environ.get("BORNE_CHAOS_CYCLES", "6"))
SEED = int(os.environ.get("BORNE_CHAOS_SEED", str(random.randrange(1 << 30))))


@pytest.mark.chaos
@pytest.mark.timeout(120 + CYCLES * 20)
async def test_no_transaction_message_lost_reordered_or_invented(tmp_path):
    report, stats, seconds, violations = await run_chaos(tmp_path, CYCLES, SEED)
    print(report.summary())
    context = (f"seed={SEED} {seconds:.0f} s {stats} stop reasons {report.stop_reasons}\n"
               + "\n".join(report.problems[:30]))
    assert violations == [], "\n".join(violations[:30]) + "\n" + context
    assert report.lost == 0 and report.reordered == 0 and report.invented == 0, context
    assert not report.problems, context
    assert report.transactions > 0, context
