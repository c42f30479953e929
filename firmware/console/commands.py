"""Console commands: help, status, config, version, and `sim` on simulated boards."""

from __future__ import annotations

import itertools
import platform
import time
from typing import Any

from firmware import __version__
from firmware.config import preferred_protocols
from firmware.core import events as ev
from firmware.core.configuration import definition
from firmware.logs import mask_id_tag
from firmware.ocpp.v201.outbound import transaction_id
from hal.sim.world import FAULT_KINDS

from .console import Console, ConsoleError, age as _age, need_args, parse_int
from .console import stamp as _stamp

_console_refs = itertools.count(1)


def install_core_commands(console: Console, agent: Any) -> None:
    async def help_(args: list[str]) -> list[str]:
        return console.help_lines(args)

    async def status(args: list[str]) -> list[str]:
        link = agent.link.status
        offered = preferred_protocols(agent.site.ocpp)
        protocol = agent.protocol if len(offered) == 1 else \
            f"{agent.protocol} (offered {' > '.join(offered)})"
        lines = [f"link: {link.state} since {_stamp(link.since_s)} ({_age(time.time() - link.since_s)})"
                 f", boot {link.boot_state}, {protocol}, csms {agent.link_url}"
                 + (f", last error: {link.last_error}" if link.last_error and link.state != "connected" else "")]
        depth, oldest, _ = agent.outbox.stats()
        if depth:
            lines.append(f"queue: {depth} transaction message(s), oldest "
                         f"{_age(agent.runtime.clock.now() - oldest)} old")
        for c in agent.station.connectors.values():
            reading = c.reading
            power = f"{reading.power_w / 1000:.2f} kW" if reading and reading.power_w is not None else "-"
            energy = f"{reading.energy_wh / 1000:.3f} kWh" if reading else "-"
            tx = "-"
            if c.tx is not None:
                if agent.protocol != "ocpp1.6":  # 2.x: the station's id, as the CSMS knows it
                    tx = transaction_id(c.tx.local_tx_id, c.tx.record.started_at_s)
                elif c.tx.transaction_id is not None:
                    tx = str(c.tx.transaction_id)
                elif c.tx.unknown_to_csms:
                    tx = f"unknown-to-csms(local {c.tx.local_tx_id})"
                else:
                    tx = f"pending(local {c.tx.local_tx_id})"
            fault = c.error()
            parts = [f"connector {c.connector_id}: {c.status()}", f"tx={tx}", f"power={power}",
                     f"energy={energy}"]
            if c.tx is not None:
                parts.append(f"idTag={mask_id_tag(c.tx.id_tag)}")
                if c.reading is not None:
                    parts.append(f"session={(c.energy_wh() - c.tx.record.meter_start_wh) / 1000:.3f} kWh")
            if c.offer_a:
                parts.append(f"offer={c.offer_a:g}A")
            if c.limit_a is not None:  # the composite limit and the profiles that set it
                parts.append(f"limit={c.limit_a:g}A({c.limit_source or '-'})")
            if fault is not None:
                parts.append(f"error={fault.error_code}/{fault.vendor_error_code or '-'}")
            if not c.operative:
                parts.append("inoperative")
            elif c.scheduled_operative is False:
                parts.append("inoperative-after-tx")
            if c.reservation is not None:
                parts.append(_reservation(c.reservation))
            lines.append(" ".join(parts))
        for r in agent.station.reservations.station_wide():
            lines.append(f"station: {_reservation(r)} (any connector)")
        from .payment_commands import payment_status_lines
        lines.extend(payment_status_lines(agent))
        return lines

    async def config_get(args: list[str]) -> list[str]:
        need_args(args, 0, 1, "config get [KEY]")
        known, unknown = agent.station.config.report(args or None)
        if unknown:
            raise ConsoleError(f"unknown key {unknown[0]!r}")
        return [f"{e['key']} = {e.get('value', '(write-only)')}"
                + (" (read-only)" if e["readonly"] else "") for e in known]

    async def config_set(args: list[str]) -> list[str]:
        if len(args) < 2:
            raise ConsoleError("usage: config set KEY VALUE")
        key, value = args[0], " ".join(args[1:])
        d = definition(key)
        if d is None:
            raise ConsoleError(f"unknown key {key!r}")
        if d.readonly:
            raise ConsoleError(f"{d.name} is read-only")
        problem = d.problem(value)
        if problem:
            raise ConsoleError(f"{d.name}: {problem}")
        ref = ("console", next(_console_refs))
        fields, continuation = await agent.runtime.request(
            ev.ConfigurationChangeRequested(ref, d.name, value))
        await continuation()
        if fields["status"] == "RebootRequired":
            return [f"{d.name} set; takes effect after a restart"]
        if fields["status"] != "Accepted":
            raise ConsoleError(f"{d.name}: {fields['status']}")
        return [] if d.write_only else [f"{d.name} = {agent.station.config.get(d.name)}"]

    async def version(args: list[str]) -> list[str]:
        from importlib.metadata import version as package_version

        return [f"borne {__version__}",
                f"station {agent.site.station['id']} ({agent.site.station['vendor']} "
                f"{agent.site.station['model']})",
                f"board {agent.board.config.name} ({agent.board.config.path})",
                f"ocpp {package_version('ocpp')}, websockets {package_version('websockets')}, "
                f"python {platform.python_version()}"]

    console.register("help [CMD]", "list the commands, or what CMD does", help_, words=1)
    console.register("status", "link state and one line per connector", status)
    console.register("config get [KEY]", "show OCPP configuration keys", config_get)
    console.register("config set KEY VALUE", "change an OCPP configuration key (persisted)",
                     config_set, role="technician")
    console.register("version", "software, station and board", version)


def install_sim_commands(console: Console, agent: Any) -> None:
    def world():
        if agent.board.sim is None:
            raise ConsoleError("not a simulated board: sim commands are unavailable")
        return agent.board.sim

    def connector_arg(text: str) -> int:
        connector_id = parse_int(text, "connector", 1)
        if connector_id not in world().connectors:
            raise ConsoleError(f"no simulated connector {connector_id}")
        return connector_id

    async def plug(args: list[str]) -> list[str]:
        need_args(args, 1, 1, "sim plug N")
        world().plug(connector_arg(args[0]))
        return []

    async def unplug(args: list[str]) -> list[str]:
        need_args(args, 1, 1, "sim unplug N")
        world().unplug(connector_arg(args[0]))
        return []

    async def ev_(args: list[str]) -> list[str]:
        need_args(args, 2, 2, "sim ev N pause|charge")
        connector_id = connector_arg(args[0])
        if args[1] not in ("pause", "charge"):
            raise ConsoleError("usage: sim ev N pause|charge")
        world().ev_charge(connector_id, args[1] == "charge")
        return []

    async def tap(args: list[str]) -> list[str]:
        need_args(args, 1, 2, "sim tap UID [READER]")
        text = args[0].replace(":", "")
        try:
            uid = bytes.fromhex(text)
        except ValueError:
            raise ConsoleError(f"UID must be hex bytes, e.g. 04A2B3C4, got {args[0]!r}") from None
        if not 1 <= len(uid) <= 10:
            raise ConsoleError("UID must be 1 to 10 bytes")
        try:
            reader = world().tap(uid, args[1] if len(args) > 1 else None)
        except LookupError as e:
            raise ConsoleError(str(e)) from None
        return [f"card {uid.hex().upper()} presented on reader {reader}"]

    async def power(args: list[str]) -> list[str]:
        need_args(args, 2, 2, "sim power N WATTS")
        connector_id = connector_arg(args[0])
        try:
            watts = float(args[1])
        except ValueError:
            raise ConsoleError(f"WATTS must be a number, got {args[1]!r}") from None
        if not 0 <= watts <= 400_000:
            raise ConsoleError("WATTS must be between 0 and 400000")
        world().set_power(connector_id, watts)
        return []

    async def fault(args: list[str]) -> list[str]:
        need_args(args, 2, 2, "sim fault N KIND|clear")
        connector_id = connector_arg(args[0])
        kind = args[1]
        if kind != "clear" and kind not in FAULT_KINDS:
            raise ConsoleError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}, clear")
        world().fault(connector_id, kind, True)
        return []

    console.register("sim plug N", "simulated EV plugged in on connector N (state B)", plug,
                     role="technician")
    console.register("sim unplug N", "cable removed from connector N (state A)", unplug,
                     role="technician")
    console.register("sim ev N pause|charge", "the EV stops (B) / resumes (C) drawing energy", ev_,
                     role="technician")
    console.register("sim tap UID [READER]", "present a card with that UID (hex)", tap,
                     role="technician")
    console.register("sim power N WATTS", "what the simulated EV draws while charging", power,
                     role="technician")
    console.register("sim fault N KIND|clear",
                     f"inject a fault ({', '.join(FAULT_KINDS)}) or clear them all", fault,
                     role="technician")


def install_auth_commands(console: Console, agent: Any) -> None:
    async def lookup(args: list[str]) -> list[str]:
        need_args(args, 1, 1, "auth lookup TAG")
        return agent.auth.lookup_lines(args[0], agent.runtime.clock.now())

    async def stats(args: list[str]) -> list[str]:
        need_args(args, 0, 0, "auth stats")
        lines = agent.auth.stats_lines()
        recent = list(agent.runtime.decisions)[-5:]
        for d in recent:
            lines.append(f"recent: {_stamp(d.at_s)} {mask_id_tag(d.id_tag)} "
                         f"{'accepted' if d.accepted else 'refused'} "
                         f"connector {d.connector_id or '-'}: {d.why}")
        return lines

    console.register("auth lookup TAG", "what the station knows and would decide for TAG",
                     lookup)
    console.register("auth stats", "local list version and size, cache size and hit rate",
                     stats)


def _reservation(r: Any) -> str:
    """A reservation as ``status`` shows it (the holder masked like every idTag)."""
    group = f" group={mask_id_tag(r.parent_id_tag)}" if r.parent_id_tag else ""
    return (f"reserved={r.reservation_id} for={mask_id_tag(r.id_tag)}{group} "
            f"until={_stamp(r.expiry_s)}")
