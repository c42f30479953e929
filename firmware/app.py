"""Composition root: build the agent from its configuration and run it.

Start-up order: configuration (problems → exit 2), database (migrated), station state
(configuration keys, availability, transactions left open by a crash), devices (a
device that cannot open → exit 1 naming it), then the tasks: OCPP link, one hardware
task per connector, card readers, console, systemd watchdog. READY=1 once running.

Shutdown (SIGTERM/SIGINT or a Reset): running transactions are stopped (Reboot, or the
reset's reason, already queued by the core), contactors opened, queued messages get a
few seconds to reach the CSMS, the websocket is closed with 1001, devices released.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from firmware import systemd
from firmware.auth import AuthorizationStore
from firmware.auth.ports import StoreAuthorization
from firmware.board import Board, build_board, close_devices, open_devices
from firmware.config import SiteConfig, firmware_settings, preferred_protocols
from firmware.errors import StartupError
from firmware.console.commands import (install_auth_commands, install_core_commands,
                                       install_sim_commands)
from firmware.console.console import Console
from firmware.console.queue_commands import install_queue_commands
from firmware.console.transport import open_console
from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.authorization import AuthKeys
from firmware.core.configuration import Configuration, definition
from firmware.core.security_profile import SecurityPrerequisites
from firmware.core.connector import Connector
from firmware.core.payment import PaymentRecord, PaymentSettings
from firmware.core.station import Station
from firmware.core.tariff import Tariff
from firmware.diagnostics.bundle import BundleBuilder
from firmware.diagnostics.service import LogService
from firmware.hardware import ConnectorHardware, HardwareTiming
from firmware.ocpp.handlers import InboundDispatcher
from firmware.ocpp.services import CallService, MessageTrigger
from firmware.ocpp.link import LinkSettings, OcppLink
from firmware.ocpp.mapping import StationInfo
from firmware.ocpp.adapter import ProtocolAdapter
from firmware.ocpp.protocol_switch import (ProtocolNegotiation, choose_protocol,
                                           blocking_queue_depth, settle_protocol_switch)
from firmware.ocpp.session import InboundHandler
from firmware.ocpp.v16 import V16Adapter
from firmware.ocpp.v201.adapter import V201Adapter
from firmware.ocpp.v201.version import VERSIONS as OCPP2_VERSIONS
from firmware.ocpp.v201.device_facts import CoreStationView
from firmware.ocpp.outbox import Outbox, RetryPolicy
from firmware.readers import ReaderTask, id_tag_rule
from firmware.runtime import AgentClock, Runtime
from firmware.payment_config import payment_settings
from firmware.payment_terminal import PaymentTerminalWorker
from firmware.store import payments as payment_store
from firmware.security.manager import CertificateManager
from firmware.security.store import MANUFACTURER, CertificateStore
from firmware.security.v16_service import CertificateServiceV16, SigningTrigger
from firmware.security.v201_service import CertificateServiceV201
from firmware.store import repositories as repo
from firmware.store.db import DB_FILENAME, atomic, open_database
from firmware.update.download import DownloadLimits
from firmware.update.service import FirmwareService, ServicePolicy
from firmware.update.signing import DirectoryFirmwareSigningTrust
from firmware.update.updater import FirmwareUpdater, UpdaterSettings

log = logging.getLogger(__name__)

SHUTDOWN_FLUSH_S = 3.0
RESET_FLUSH_S = 10.0


@dataclass
class Agent:
    site: SiteConfig
    board: Board
    conn: Any
    station: Station
    runtime: Runtime
    outbox: Outbox
    link: OcppLink
    console: Console
    readers: list[ReaderTask]
    started_at_s: float
    auth: StoreAuthorization
    bundle: BundleBuilder
    log_service: LogService
    certificates: CertificateManager | None = None
    boot_reason: str = "PowerUp"  # why this start happened (StartupOfTheDevice, 2.0.1 boot)
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    payment_worker: PaymentTerminalWorker | None = None  # the board's [[payment]] terminal
    firmware_updater: FirmwareUpdater | None = None

    def stop(self) -> None:
        """Ask ``run`` to shut down gracefully (what SIGTERM does)."""
        self.stop_event.set()

    @property
    def link_url(self) -> str:
        return self.link._settings().url

    @property
    def protocol(self) -> str:
        """The OCPP version spoken (the websocket subprotocol), e.g. "ocpp2.0.1"."""
        return self.runtime.adapter.subprotocol


def _configuration(site: SiteConfig, conn: Any) -> Configuration:
    persisted = repo.load_configuration(conn)
    fixed = {"NumberOfConnectors": str(len(site.board.connectors))}
    configuration = Configuration.initial(site.ocpp_defaults, persisted, fixed)
    for bad in configuration.rejected:
        # Stored by a release without ranges (or a damaged database): never start with it.
        log.warning("configuration: ignoring the %s value of %s (%s)", bad.source, bad.key,
                    bad.problem)
    with atomic(conn):
        for bad in configuration.rejected:
            if bad.source == "persisted":
                repo.save_configuration(conn, bad.key, configuration.get(bad.key))
    if not persisted:
        # First boot: the site's defaults become the station's values; from now on the
        # CSMS owns them (DESIGN §3).
        with atomic(conn):
            for key, value in configuration.as_dict().items():
                d = definition(key)
                if d is not None and not d.readonly:
                    repo.save_configuration(conn, key, value)
            repo.save_configuration(conn, "AuthorizationKey",
                                    site.ocpp_defaults.get("AuthorizationKey", ""))
    return configuration


def protocol_adapter(subprotocol: str, info: StationInfo, conn: Any,
                     online: Callable[[], bool], boot_reason: str = "PowerUp",
                     facts: Any = None) -> ProtocolAdapter:
    """The adapter of the site's ``[ocpp] protocol`` (the config allows only known ones).
    ``conn``: the agent's database (2.0.1 keeps its transactions' seqNo there);
    ``online()``: the link is up (2.0.1 marks events that happen otherwise offline);
    ``boot_reason``: why this process started (2.0.1 BootNotification.reason);
    ``facts``: what 2.0.1's read-only device-model facts read (``v201.device_facts``)."""
    if subprotocol == V16Adapter.subprotocol:
        return V16Adapter(info)
    version = OCPP2_VERSIONS.get(subprotocol)
    if version is not None:  # 2.0.1 or 2.1
        return V201Adapter(info, conn, online=online, boot_reason=boot_reason, facts=facts,
                           version=version)
    raise ValueError(f"no adapter for OCPP subprotocol {subprotocol!r}")


BOOT_REASON_KEY = "next_boot_reason"


def take_boot_reason(conn: Any) -> str:
    """Why this start happened, as 2.0.1 names it ([S201] BootReasonEnumType): RemoteReset
    after a CSMS Reset (recorded by ``run`` before the restart), else PowerUp (a power
    cut, a crash or a first start leave nothing behind). Read once: the record is
    cleared, so the start after next says PowerUp again."""
    reason = repo.get_meta(conn, BOOT_REASON_KEY) or "PowerUp"
    if reason != "PowerUp":
        with atomic(conn):
            repo.set_meta(conn, BOOT_REASON_KEY, "PowerUp")
    return reason


def _require_protocol_support(protocol: str) -> None:
    """Raise ``StartupError`` before anything is built when this build lacks a part of
    the site's OCPP version (2.0.1's frame codec and CALL handlers are modules of their
    own, imported on first use)."""
    if protocol not in OCPP2_VERSIONS:
        return
    try:
        for module in ("firmware.ocpp.v201.codec", "firmware.ocpp.v201.inbound"):
            importlib.import_module(module)
    except ImportError as e:
        raise StartupError(f"[ocpp] protocol = \"{protocol}\": this build lacks its frame "
                           f"codec or CALL handlers ({e})") from e


def _inbound_dispatcher(runtime: Runtime, auth: StoreAuthorization,
                        adapter: ProtocolAdapter, outbox: Outbox,
                        services: tuple[CallService, ...],
                        triggers: tuple[MessageTrigger, ...] = ()) -> InboundHandler:
    """The handler of the CSMS's CALLs in the adapter's version; ``services`` answer
    the actions that are not the core's, ``triggers`` the messages only a service sends
    on request (``firmware.ocpp.services``)."""
    if not isinstance(adapter, V201Adapter):
        return InboundDispatcher(runtime, auth, services=services, triggers=triggers)
    from firmware.ocpp.v201.inbound import V201InboundDispatcher

    dispatcher = V201InboundDispatcher(runtime, auth, transactions=adapter, queue=outbox,
                                       services=services, facts=adapter.facts,
                                       triggers=triggers, version=adapter.version,
                                       reports=adapter)
    adapter.answer_actions(dispatcher.supported)
    handler: InboundHandler = dispatcher
    return handler


def _payment_setup(site: SiteConfig, board: Board, conn: Any) -> PaymentSetup:
    """The card payment of a board with a ``[[payment]]`` terminal (the first one: one
    terminal serves the connectors it names, all when it names none)."""
    if not board.payments:
        return PaymentSetup()
    values, terminal = board.payments[0]
    if len(board.payments) > 1:
        log.warning("board has %d payment terminals: only %r takes payments",
                    len(board.payments), values["name"])
    connectors = tuple(values.get("connectors") or ())
    settings = payment_settings(site.payment, connectors, site.station["id"])
    stored = payment_store.tariff(conn)
    tariff = None
    if stored is not None:
        try:
            tariff = Tariff.from_dict(stored)
        except ValueError as error:
            log.error("the tariff the CSMS set is unreadable (%s): using [payment]'s", error)
    if terminal.info().backend == "sim":
        terminal.wait_for_card = True   # the console's `sim card` presents the card
    return PaymentSetup(settings, payment_store.payments(conn, unfinished_only=True), tariff,
                        payment_store.last_payment_id(conn),
                        PaymentTerminalWorker(terminal))


@dataclass
class PaymentSetup:
    settings: PaymentSettings | None = None
    records: list[PaymentRecord] = field(default_factory=list)
    tariff: Tariff | None = None
    last_payment_id: int = 0
    worker: PaymentTerminalWorker | None = None

    def station_args(self) -> dict[str, Any]:
        if self.settings is None:
            return {}
        return {"payment": self.settings, "payment_records": self.records,
                "tariff": self.tariff}

    def attach(self, station: Station, runtime: Runtime) -> None:
        if station.payment is not None:
            station.payment.next_payment_id = max(station.payment.next_payment_id,
                                                  self.last_payment_id + 1)
        if self.worker is not None:
            self.worker.dispatch = runtime.dispatch
            runtime.payment = self.worker


def build_agent(site: SiteConfig, *,
                retry_clock: Callable[[], float] = time.monotonic,
                force_protocol_switch: bool = False) -> Agent:
    """Build the agent for ``site``. ``retry_clock`` is the monotonic clock (s) the outbox
    schedules retransmissions on; tests inject one they move by hand, to assert the
    schedule the agent computed rather than gaps measured on a loaded machine.

    Raises ``StartupError`` when the outbox holds messages of another OCPP version than
    ``[ocpp] protocol`` (``firmware.ocpp.protocol_switch``), unless
    ``force_protocol_switch``, which discards them."""
    preferences = preferred_protocols(site.ocpp)
    for name in preferences:
        _require_protocol_support(name)
    conn = open_database(site.state_dir)
    speaking = choose_protocol(conn, preferences)
    try:
        settle_protocol_switch(conn, speaking, force=force_protocol_switch)
    except StartupError:
        conn.close()
        raise
    configuration = _configuration(site, conn)
    availability = repo.load_availability(conn)
    board = build_board(site.board)
    connectors = [Connector(c.config.connector_id, c.config.max_current_a,
                            operative=availability.get(c.config.connector_id, True),
                            has_lock="lock" in c.devices,
                            nominal_voltage_v=c.config.values["nominal_voltage_v"],
                            phases=c.config.values["phases"])
                  for c in board.connectors]
    firmware = firmware_settings(site)
    version = running_version(firmware["version_file"])
    payment = _payment_setup(site, board, conn)
    clock = AgentClock()
    certificates = CertificateStore(site.state_dir, clock.now)
    if site.ocpp["ca_file"]:  # first start: the site's CA seeds the CSMS roots
        certificates.seed_csms_roots(Path(site.ocpp["ca_file"]),
                                     configuration.get_int("CertificateStoreMaxLength"))

    def security_prerequisites() -> SecurityPrerequisites:
        return SecurityPrerequisites(bool(certificates.roots("csms")),
                                     certificates.has_client_certificate())

    station = Station(connectors, configuration, next_local_tx_id=repo.next_local_tx_id(conn),
                      profiles=repo.charging_profiles(conn),
                      reservations=repo.reservations(conn),
                      security_prerequisites=security_prerequisites,
                      firmware_version=version, firmware_update=repo.load_firmware_update(conn),
                      **payment.station_args())
    hardware = {
        c.config.connector_id: ConnectorHardware(
            c.config.connector_id, c.devices["pilot"], c.devices["contactor"], c.devices["meter"],
            c.devices.get("lock"), c.devices.get("indicator"),
            HardwareTiming(c.config.values["meter_poll_interval_s"],
                           c.config.values["meter_failed_reads"]), clock=clock.now)
        for c in board.connectors}
    info = StationInfo(site.station["vendor"], site.station["model"],
                       site.station["serial_number"] or None, version)
    def auth_keys() -> AuthKeys:
        return AuthKeys.from_ocpp(configuration.get)

    store = AuthorizationStore(site.state_dir / DB_FILENAME,
                               cache_capacity=site.auth["cache_capacity"], keys=auth_keys(),
                               negative_window_s=site.auth["negative_cache_window_s"])
    auth = StoreAuthorization(store, auth_keys)
    link: OcppLink | None = None  # built below, once the runtime exists

    def online() -> bool:
        return link is not None and link.connected

    boot_reason = take_boot_reason(conn)
    facts = CoreStationView(station, clock.now, site.ocpp["call_timeout_s"])
    adapter = protocol_adapter(speaking, info, conn, online,
                               boot_reason, facts)
    runtime = Runtime(station, conn, clock, hardware, info, auth, adapter)
    for h in hardware.values():
        h.dispatch = runtime.dispatch
    payment.attach(station, runtime)

    def policy() -> RetryPolicy:
        return RetryPolicy(configuration.get_int("TransactionMessageAttempts"),
                           float(configuration.get_int("TransactionMessageRetryInterval")))

    outbox = Outbox(conn, policy,
                    budget_bytes=int(float(site.ocpp["outbox_budget_mb"]) * 1_000_000),
                    monotonic=retry_clock, protocol=adapter.subprotocol,
                    csms_assigns_transaction_ids=adapter.csms_assigns_transaction_ids,
                    bounds_transaction=lambda action, payload: (
                        adapter.starts_transaction(action, payload)
                        or adapter.ends_transaction(action, payload)))

    def settings() -> LinkSettings:
        return LinkSettings(
            csms_url=site.ocpp["csms_url"], identity=site.station["id"],
            call_timeout_s=site.ocpp["call_timeout_s"],
            ping_interval_s=float(configuration.get_int("WebSocketPingInterval")),
            authorization_key=configuration.get("AuthorizationKey"),
            security_profile=configuration.get_int("SecurityProfile"),
            ca_file=site.ocpp["ca_file"] or None,
            reconnect_initial_s=site.ocpp["reconnect_initial_s"],
            reconnect_max_s=site.ocpp["reconnect_max_s"],
            replay_max_per_s=site.ocpp["replay_max_per_s"],
            unanswered_calls_max=site.ocpp["unanswered_calls_max"])

    console = Console()
    from firmware.console.serve import log_ring

    def secrets() -> list[str]:  # cut from every bundle wherever they appear
        return [configuration.get("AuthorizationKey")] + [
            str(a.get("password_hash", "")) for a in site.console.get("accounts", {}).values()]

    bundle = BundleBuilder(console, site, conn, log_ring(), secrets)
    log_service = LogService(adapter.subprotocol, bundle, runtime.dispatch, site.station["id"],
                             site.ocpp["upload_timeout_s"])
    # CALLs answered outside the core, in the site's OCPP version (certificates, logs,
    # firmware updates).
    services: list[CallService] = [log_service]
    link_port = _LinkPort()
    certificate_manager = CertificateManager(
        certificates, configuration, link_port, runtime.dispatch,
        site.station["serial_number"] or site.station["id"], clock.now)
    if isinstance(adapter, V201Adapter):
        services.append(CertificateServiceV201(certificate_manager))
    else:
        services.append(CertificateServiceV16(certificate_manager))
    # Manufacturer roots installed by the CSMS (InstallCertificate, the certificate store)
    # and by hand (certs/manufacturer, [firmware] manufacturer_roots) all count.
    trust = DirectoryFirmwareSigningTrust(
        [certificates.directory / MANUFACTURER, site.state_dir / "certs" / "manufacturer"]
        + ([Path(firmware["manufacturer_roots"])] if firmware["manufacturer_roots"] else []))
    updater = FirmwareUpdater(UpdaterSettings(
        site.state_dir / "firmware",
        DownloadLimits(int(firmware["max_image_mb"] * 1_000_000),
                       firmware["download_timeout_s"], firmware["stall_timeout_s"]),
        tuple(firmware["install_command"]), firmware["install_timeout_s"]),
        trust, runtime.dispatch, clock.now)
    runtime.firmware = updater
    services.append(FirmwareService(speaking, runtime, trust, ServicePolicy(
        firmware["allow_unsigned"], bool(firmware["install_command"]),
        firmware["default_retries"], firmware["default_retry_interval_s"]), clock.now))
    # ExtendedTriggerMessage SignChargePointCertificate / 2.0.1 TriggerMessage
    # SignChargingStationCertificate: a CSR from the certificate manager.
    triggers = (SigningTrigger(certificate_manager, speaking),)
    dispatcher = _inbound_dispatcher(runtime, auth, adapter, outbox, tuple(services), triggers)
    negotiation = None
    if len(preferences) > 1:
        def can_switch() -> bool:
            # Queued security events do not pin the version: the switch carries them.
            return blocking_queue_depth(conn) == 0 and all(
                c.tx is None and c.stopping is None for c in station.connectors.values())

        negotiation = ProtocolNegotiation(conn, preferences, speaking, can_switch,
                                          lambda: runtime.request_restart("ApplicationReset"))
    link = OcppLink(settings, dispatcher, runtime.dispatch, outbox, adapter, clock.now,
                    sync_clock=clock.sync, negotiation=negotiation,
                    credentials=certificates)
    runtime.link = link
    link_port.link = link
    readers = [ReaderTask(reader, values, runtime, id_tag_rule(values))
               for values, reader in board.readers]
    agent = Agent(site, board, conn, station, runtime, outbox, link, console, readers,
                  time.time(), auth, bundle, log_service, payment_worker=payment.worker,
                  certificates=certificate_manager, boot_reason=boot_reason,
                  firmware_updater=updater)
    install_core_commands(console, agent)
    install_auth_commands(console, agent)
    install_sim_commands(console, agent)
    install_queue_commands(console, agent)
    from firmware.console.payment_commands import install_payment_commands
    install_payment_commands(console, agent)
    from firmware.console.hw_commands import install_hw_commands
    install_hw_commands(console, agent)
    from firmware.console.serve import install_console
    install_console(agent)
    return agent


class _LinkPort:
    """The link for the certificate manager, which is built before the link (the link
    needs the dispatcher, which needs the services)."""

    link: OcppLink | None = None

    def submit(self, effect: fx.SendMessage, triggered: bool = False) -> None:
        if self.link is not None:
            self.link.submit(effect, triggered)

    def reconnect(self, fallback_profile: int | None = None) -> None:
        if self.link is not None:
            self.link.reconnect(fallback_profile)

    @property
    def connected(self) -> bool:
        return self.link is not None and self.link.connected


def _version() -> str:
    from firmware import __version__

    return __version__


def running_version(version_file: str = "") -> str:
    """The firmware version this process reports (BootNotification firmwareVersion, ≤ 50
    characters; a firmware update is Installed when it differs from the one before the
    install): the first line of ``[firmware] version_file`` when set and readable (an
    image updater writes it), else ``borne-<package version>`` (a pip-installed wheel
    carries its own)."""
    if version_file:
        try:
            with open(version_file, encoding="utf-8") as f:
                line = f.readline().strip()
            if line:
                return line[:50]
            log.warning("version_file %s is empty: reporting the package version",
                        version_file)
        except (OSError, UnicodeDecodeError) as e:
            log.warning("version_file %s unreadable (%s): reporting the package version",
                        version_file, e)
    return f"borne-{_version()}"


async def run(agent: Agent) -> str | None:
    """Run until stopped; returns the reset kind when a restart was requested.

    Raises ``AgentBug`` when a bug stopped the agent (``firmware.runtime``): nothing is
    dispatched after it; devices are closed and the database left as the last event's
    commit left it, for the next start to recover from."""
    loop = asyncio.get_running_loop()
    stop = agent.stop_event
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await open_devices(agent.board)
    # Everything built at start-up lives for the process's life: keep it out of the
    # cyclic collector, whose full passes over it would stall the loop for 15-40 ms.
    gc.collect()
    gc.freeze()
    settings = agent.site.console
    transport = open_console(settings["device"], settings["baudrate"], settings["group"],
                             int(settings["mode"], 8))
    try:
        async with asyncio.TaskGroup() as tasks:
            supervisor = tasks.create_task(agent.runtime.supervise())
            resetter = tasks.create_task(_until_stopped(agent, stop))
            agent.runtime.dispatch(ev.AgentStarted(agent.boot_reason))
            for record in repo.open_transactions(agent.conn):
                log.warning("transaction %d on connector %d was running when the agent "
                            "stopped: stopping it with PowerLoss", record.local_tx_id,
                            record.connector_id)
                agent.runtime.dispatch(ev.RecoveredTransaction(
                    record, repo.stop_data(agent.conn, record.local_tx_id)))
            workers = [tasks.create_task(h.run()) for h in agent.runtime.hardware.values()]
            workers += [tasks.create_task(r.run()) for r in agent.readers]
            workers.append(tasks.create_task(agent.link.run()))
            if agent.payment_worker is not None:
                workers.append(tasks.create_task(agent.payment_worker.run()))
            if agent.certificates is not None:  # A03: renew before the certificate expires
                workers.append(tasks.create_task(agent.certificates.renewal_loop()))
            workers.append(tasks.create_task(agent.log_service.run()))
            workers.append(tasks.create_task(systemd.watchdog_loop()))
            if agent.firmware_updater is not None:
                workers.append(tasks.create_task(agent.firmware_updater.run()))
            if transport is not None:
                from firmware.console.serve import serve_console
                workers.append(tasks.create_task(serve_console(agent, transport)))
            systemd.notify("READY=1")
            log.info("agent running: station %s, board %s, csms %s",
                     agent.site.station["id"], agent.board.config.name, agent.link_url)
            await stop.wait()
            log.info("stopping")
            systemd.notify("STOPPING=1")
            resetter.cancel()
            await _shutdown(agent, workers)
            if agent.runtime.restart_requested is not None:
                with atomic(agent.conn):  # the next start's BootNotification says why
                    repo.set_meta(agent.conn, BOOT_REASON_KEY, agent.runtime.restart_reason)
            supervisor.cancel()
    except ExceptionGroup as group:
        # A bug in any task (or one the runtime recorded): one policy, one exception.
        # The finally below opens what it can (devices released = contactor coils off).
        bug = agent.runtime.bug_of(group)
        raise bug from bug.__cause__
    finally:
        agent.runtime.cancel_timers()
        await close_devices(agent.board)
        await asyncio.to_thread(agent.auth.store.close)
        agent.conn.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return agent.runtime.restart_requested


async def _until_stopped(agent: Agent, stop: asyncio.Event) -> None:
    await agent.runtime.restart_event.wait()
    # A Reset: the core has queued the StopTransactions; give them time to reach the CSMS.
    await _flush_outbox(agent, RESET_FLUSH_S)
    stop.set()


async def _shutdown(agent: Agent, workers: list[asyncio.Task]) -> None:
    if agent.runtime.restart_requested is None:
        agent.runtime.dispatch(ev.ShutdownRequested("Reboot"))
    await _drain_hardware(agent)
    await _flush_outbox(agent, SHUTDOWN_FLUSH_S)
    await agent.link.close()
    for task in workers:
        task.cancel()


async def _drain_hardware(agent: Agent, timeout_s: float = 2.0) -> None:
    """Let the hardware workers execute what is queued (contactors opening)."""
    try:
        async with asyncio.timeout(timeout_s):
            for hardware in agent.runtime.hardware.values():
                await hardware.drained()
    except TimeoutError:
        log.error("hardware did not finish its last commands within %.0f s", timeout_s)


async def _flush_outbox(agent: Agent, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and agent.link.connected:
        depth, _, _ = agent.outbox.stats()
        if depth == 0:
            return
        await asyncio.sleep(0.05)
