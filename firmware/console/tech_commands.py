"""Console commands a field technician needs beyond ``status``: connectors, tx, meter,
net, diag export, reboot, factory-reset.

Everything is read from what the console already gets (the station's connectors, the
runtime's hardware, the link's status, the log ring); nothing here writes to the core
except ``reboot`` / ``factory-reset``, which go through the same Reset request the CSMS
uses (the core stops transactions first). ``diag export`` writes a file under the
state directory, built by ``firmware.diagnostics.bundle`` (the bundle GetDiagnostics
and GetLog upload too), which never includes a secret.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

from firmware.diagnostics.bundle import BundleBuilder, safe_url
from firmware.logs import mask_id_tag
from firmware.core import events as ev
from firmware.store.db import atomic

from .console import Console, ConsoleError, age, need_args, parse_int, stamp
from .serve import LogRing

_refs = itertools.count(1)


def install_tech_commands(console: Console, agent: Any, ring: LogRing,
                          bundle: BundleBuilder) -> None:
    def connector_ids(args: list[str], usage: str) -> list[int]:
        need_args(args, 0, 1, usage)
        ids = sorted(agent.station.connectors)
        if not args:
            return ids
        wanted = parse_int(args[0], "connector", 1)
        if wanted not in ids:
            raise ConsoleError(f"no connector {wanted}; this station has {', '.join(map(str, ids))}")
        return [wanted]

    async def connectors(args: list[str]) -> list[str]:
        lines = []
        for cid in connector_ids(args, "connectors [N]"):
            c = agent.station.connectors[cid]
            hardware = agent.runtime.hardware.get(cid)
            try:
                feedback = "closed" if hardware.contactor.is_closed else "open"
            except Exception as e:  # a device that cannot answer is shown, not fatal
                feedback = f"unreadable ({type(e).__name__})"
            lock = ("locked" if c.cable_locked else "unlocked") + \
                (" (confirmed)" if c.lock_confirmed else "") if c.has_lock else "none"
            faults = ", ".join(f.error_code for f in c.faults.values()) or "none"
            lines.append(f"connector {cid}: {c.status()}, pilot {c.pilot.name}, offered "
                         f"{c.offer_a:.1f} A of {c.max_current_a:.0f} A, contactor commanded "
                         f"{'closed' if c.contactor_closed else 'open'} / feedback {feedback}, "
                         f"lock {lock}, faults {faults}"
                         + ("" if c.operative else ", inoperative"))
        return lines

    async def tx(args: list[str]) -> list[str]:
        need_args(args, 0, 0, "tx")
        now = agent.runtime.clock.now()
        lines = []
        for c in agent.station.connectors.values():
            if c.tx is None:
                continue
            r = c.tx.record
            energy = (c.energy_wh() - r.meter_start_wh) if c.reading is not None else 0
            lines.append(f"connector {c.connector_id}: local {r.local_tx_id}, transactionId "
                         f"{c.tx.transaction_id if c.tx.transaction_id is not None else 'pending'}"
                         f", idTag {mask_id_tag(r.id_tag)}, started {stamp(r.started_at_s)} "
                         f"({age(now - r.started_at_s)}), {energy / 1000:.3f} kWh")
        if not lines:
            lines.append("no transaction running")
        recent = [t for t in ring.tail(1000, "INFO") if "transaction" in t.lower()][-5:]
        lines += [f"recent: {t}" for t in recent]
        return lines

    async def meter(args: list[str]) -> list[str]:
        lines = []
        now = agent.runtime.clock.now()
        for cid in connector_ids(args, "meter [N]"):
            c = agent.station.connectors[cid]
            r = c.reading
            if r is None:
                lines.append(f"connector {cid}: no reading yet")
                continue
            values = [f"energy {r.energy_wh:.0f} Wh"]
            if r.power_w is not None:
                values.append(f"power {r.power_w:.0f} W")
            for label, phases, unit in (("current", r.current_a, "A"),
                                        ("voltage", r.voltage_v, "V")):
                if phases:
                    values.append(f"{label} " + "/".join(
                        "-" if v is None else f"{v:.1f}" for v in phases) + f" {unit}")
            at = f", {age(now - c.reading_at_s)} ago" if c.reading_at_s is not None else ""
            lines.append(f"connector {cid}: " + ", ".join(values) + at)
        return lines

    async def net(args: list[str]) -> list[str]:
        need_args(args, 0, 0, "net")
        link = agent.link.status
        return [f"link {link.state} since {stamp(link.since_s)} "
                f"({age(time.time() - link.since_s)}), boot {link.boot_state}, "
                f"{link.connects} connect(s)",
                f"csms {safe_url(agent.link_url)}",
                f"last error: {link.last_error or '-'}"]

    async def diag_export(args: list[str]) -> list[str]:
        need_args(args, 0, 0, "diag export")
        text = await bundle.diagnostics()
        path = Path(agent.site.state_dir) / time.strftime("diag-%Y%m%dT%H%M%SZ.txt",
                                                           time.gmtime())
        try:
            await asyncio.to_thread(path.write_text, text, encoding="utf-8")
        except OSError as e:
            raise ConsoleError(f"cannot write {path}: {e.strerror}") from None
        return [f"written {path} ({len(text)} bytes)"]

    async def reset(kind: str) -> list[str]:
        fields, continuation = await agent.runtime.request(ev.ResetRequested(
            ("console", next(_refs)), kind))
        await continuation()
        if fields.get("status") != "Accepted":
            raise ConsoleError(f"reset refused: {fields.get('status')}")
        return [f"{kind} reset accepted: transactions stop, then the agent restarts"]

    async def reboot(args: list[str]) -> list[str]:
        need_args(args, 0, 1, "reboot [hard]")
        if args and args[0].lower() != "hard":
            raise ConsoleError("usage: reboot [hard]")
        return await reset("Hard" if args else "Soft")

    async def factory_reset(args: list[str]) -> list[str]:
        station_id = agent.site.station["id"]
        if args != [station_id]:
            raise ConsoleError(f"this forgets every OCPP key the CSMS or console set; type "
                               f"`factory-reset {station_id}` to confirm")
        with atomic(agent.conn) as conn:
            conn.execute("DELETE FROM config_keys")
        return ["OCPP keys forgotten ([ocpp.defaults] apply at the next start)"] + \
            await reset("Hard")

    console.register("connectors [N]", "per connector: pilot, offered current, contactor "
                     "commanded and feedback, lock, faults", connectors)
    console.register("tx", "running transactions and recent transaction log lines", tx)
    console.register("meter [N]", "last meter reading per connector and its age", meter)
    console.register("net", "link state, CSMS URL (no credentials), last error", net)
    console.register("diag export", "write versions, status, config (no secrets), log and "
                     "frames to a file under the state directory", diag_export,
                     role="technician")
    console.register("reboot [hard]", "restart the agent after stopping transactions", reboot,
                     role="admin")
    console.register("factory-reset STATION_ID", "forget OCPP keys set since first boot, "
                     "then restart (typed confirmation)", factory_reset, words=1, role="admin")
