"""The console's view of the durable outbox: ``queue``.

``install_queue_commands(console, agent)`` registers the command; the disk budget it
reports is the site key ``[ocpp] outbox_budget_mb``.

``queue`` answers, then OK::

    queue: 3 transaction message(s), about 1.2 kB of a 50.0 MB budget
    oldest: 2026-01-01T12:00:00Z (4m05s old)
    head: StartTransaction, 1 failed transmission(s), next attempt in 55s
    totals: 7 failed transmission(s), 1 dropped (since the database was created); \
12 delivered since start
    link: offline since 2026-01-01T11:59:58Z (4m07s), boot Accepted

and, over budget, a first line ``OVER BUDGET: ...`` (also logged at ERROR). The
failure and drop totals are persisted, so they survive restarts.
"""

from __future__ import annotations

import time
from typing import Any

from .console import Console, age as _age, need_args, stamp as _stamp


def _size(n_bytes: float) -> str:
    if n_bytes < 1000:
        return f"{int(n_bytes)} B"
    if n_bytes < 1_000_000:
        return f"{n_bytes / 1000:.1f} kB"
    return f"{n_bytes / 1_000_000:.1f} MB"


def queue_lines(agent: Any) -> list[str]:
    """The ``queue`` reply (without OK), from the agent's outbox and link."""
    snap = agent.outbox.snapshot()
    now_s = agent.runtime.clock.now()
    lines: list[str] = []
    budget = (f" of a {_size(snap.budget_bytes)} budget" if snap.budget_bytes is not None
              else "")
    if snap.over_budget:
        lines.append(f"OVER BUDGET: {_size(snap.stored_bytes)} queued, budget "
                     f"{_size(snap.budget_bytes)}; transaction messages are kept, never dropped "
                     "for space")
    lines.append(f"queue: {snap.depth} transaction message(s), about "
                 f"{_size(snap.stored_bytes)}{budget}")
    if snap.oldest_created_at_s is not None:
        lines.append(f"oldest: {_stamp(snap.oldest_created_at_s)} "
                     f"({_age(now_s - snap.oldest_created_at_s)} old)")
    if snap.head_action is not None:
        head = f"head: {snap.head_action}, {snap.head_attempts} failed transmission(s)"
        due_s = (snap.head_next_attempt_at_s or 0.0) - now_s
        if due_s > 0:
            head += f", next attempt in {_age(due_s)}"
        elif agent.link.status.boot_state != "Accepted":
            head += ", waiting for the CSMS to accept the BootNotification"
        elif not agent.link.connected:
            head += ", waiting for the link"
        else:
            head += ", being sent"
        lines.append(head)
    lines.append(f"totals: {snap.failed_transmissions_total} failed transmission(s), "
                 f"{snap.dropped_total} dropped (since the database was created); "
                 f"{snap.delivered_since_start} delivered since start")
    link = agent.link.status
    state = "online" if link.state == "connected" else "offline"
    lines.append(f"link: {state} since {_stamp(link.since_s)} "
                 f"({_age(time.time() - link.since_s)}), boot {link.boot_state}")
    return lines


def install_queue_commands(console: Console, agent: Any) -> None:
    async def queue(args: list[str]) -> list[str]:
        need_args(args, 0, 0, "queue")
        return queue_lines(agent)

    console.register("queue", "outbox depth, oldest message, retries, drops, disk budget",
                     queue)
