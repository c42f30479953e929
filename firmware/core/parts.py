"""The declared interface the Station's parts share.

``Station`` is assembled from parts by topic (``charging``, ``authorization_flow``,
``sampling``, ``csms_requests``) and composed parts with their own interface
(``boot.Registration``, ``reservations.Reservations``, ``smart_charging_flow.SmartCharging``).
Each part by topic states here what it reads of the station and which of the other parts'
operations it calls; nothing else is shared. mypy checks every part against this interface and the assembled ``Station``
against all of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Hashable, Protocol

from . import effects as fx
from . import events as ev
from .configuration import Configuration
from .connector import Authorization, Connector

if TYPE_CHECKING:
    from .authorization import AuthKeys
    from .boot import Registration
    from .reservations import Reservations
    from .smart_charging_flow import SmartCharging
    from .authorization_flow import PendingAuthorization
    from .firmware_update import FirmwareUpdate
    from .log_uploads import LogUploads


class StationParts(Protocol):
    # ------------------------------------------------------------------ shared state
    connectors: dict[int, Connector]
    config: Configuration
    next_local_tx_id: int
    registration: Registration
    reset_accepted: bool
    reset_when_idle: str | None  # a scheduled reset's kind, until the last transaction ends
    _authorize_seq: int
    _pending_authorize: dict[Hashable, PendingAuthorization]
    reservations: Reservations
    smart_charging: SmartCharging
    firmware: FirmwareUpdate
    log_uploads: LogUploads

    @property
    def online(self) -> bool: ...

    # ------------------------------------------------------------------ station (_sync)
    def station_status(self) -> str: ...

    def _report_status(self, c: Connector, now: float,
                       force: bool = False) -> list[fx.Effect]: ...

    def _report_station_status(self, now: float, force: bool = False) -> list[fx.Effect]: ...

    def report_all_statuses(self, now: float) -> list[fx.Effect]: ...

    def connector_status_report(self, c: Connector, now: float) -> fx.SendConnectorStatus: ...

    @property
    def boot_state(self) -> str: ...  # None | Pending | Accepted | Rejected (registration)

    # ------------------------------------------------------------------ metering
    def _arm_aligned_timer(self, now: float) -> list[fx.Effect]: ...

    # ------------------------------------------------------------------ charging
    def _authorize_connector(self, c: Connector, auth: Authorization,
                             now: float) -> list[fx.Effect]: ...

    def _stop_transaction(self, c: Connector, reason: str, id_tag: str | None,
                          now: float, read_meter: bool = True) -> list[fx.Effect]: ...

    def _keep_stop_sample(self, c: Connector, kept: fx.MeterSample | None
                          ) -> list[fx.Effect]: ...

    def find_transaction(self, transaction_id: int) -> Connector | None: ...

    # ------------------------------------------------------------------ sampling
    def _arm_sample_timer(self, c: Connector) -> list[fx.Effect]: ...

    def _on_sample_timer(self, c: Connector, now: float) -> list[fx.Effect]: ...

    def _on_offer_retry(self, c: Connector) -> list[fx.Effect]: ...

    def _on_aligned_timer(self, now: float) -> list[fx.Effect]: ...

    # ------------------------------------------------------------------ authorization
    def authorization_keys(self) -> AuthKeys: ...

    def remote_start(self, c: Connector, event: ev.RemoteStartRequested,
                     now: float) -> list[fx.Effect]: ...

    def _start_target(self, connector_id: int = 0,
                      id_tag: str | None = None) -> Connector | None: ...

    def _on_call_failed(self, event: ev.CallFailed, now: float) -> list[fx.Effect]: ...

    def _learn_id_tag_info(self, id_tag: str, info: ev.IdTagInfo,
                           now: float) -> list[fx.Effect]: ...

    def _check_csms_verdict(self, c: Connector, info: ev.IdTagInfo,
                            now: float) -> list[fx.Effect]: ...

    # ------------------------------------------------------------------ CSMS requests
    def configuration_changed(self, key: str, now: float) -> list[fx.Effect]: ...

    def _apply_availability(self, c: Connector, operative: bool) -> list[fx.Effect]: ...
