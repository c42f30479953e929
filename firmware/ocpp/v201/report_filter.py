"""GetReport (2.0.1 B08): which variables of the device model a report holds.

A GetReport names ``componentVariable`` items (a component, optionally its instance and
EVSE/connector, optionally one variable and its instance) and/or ``componentCriteria``
(Active, Available, Enabled, Problem) ([S201] GetReportRequest). Our reading, the Part 2
requirement texts not being in our sources (ocpp201-rules.md header):

- no ``componentVariable``: every variable; otherwise a variable is reported when some
  item matches it: same component name, the item's component instance and EVSE (id,
  connectorId) when it gives them, the item's variable name and instance when it gives
  one (no variable: all of the component's);
- ``componentCriteria``: of those, only the components that have a variable named by a
  criterion whose Actual value is "true" (e.g. Available = true, Problem = true);
- nothing in the station's model can match: the answer is EmptyResultSet and no report
  is sent; else Accepted and one NotifyReport (``reportData`` omitted when the criteria
  leave nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Protocol

from firmware.core import events as ev
from firmware.ocpp.v201.inbound_actions import limit_items

CRITERIA = ("Active", "Available", "Enabled", "Problem")


def _component_key(component: dict[str, Any]) -> tuple[Any, ...]:
    evse = component.get("evse") or {}
    return (component.get("name"), component.get("instance"), evse.get("id"),
            evse.get("connectorId"))


def _matches(wanted: dict[str, Any], item: dict[str, Any]) -> bool:
    want, have = wanted.get("component", {}), item.get("component", {})
    if want.get("name") != have.get("name"):
        return False
    if "instance" in want and want.get("instance") != have.get("instance"):
        return False
    want_evse, have_evse = want.get("evse"), have.get("evse") or {}
    if want_evse is not None:
        if want_evse.get("id") != have_evse.get("id"):
            return False
        if "connectorId" in want_evse and want_evse["connectorId"] != have_evse.get(
                "connectorId"):
            return False
    variable = wanted.get("variable")
    if variable is None:
        return True
    have_variable = item.get("variable", {})
    if variable.get("name") != have_variable.get("name"):
        return False
    return "instance" not in variable or variable["instance"] == have_variable.get("instance")


def _actual(item: dict[str, Any]) -> str | None:
    for attribute in item.get("variableAttribute", ()):
        if attribute.get("type", "Actual") == "Actual":
            value = attribute.get("value")
            return value if isinstance(value, str) else None
    return None


@dataclass(frozen=True)
class ReportFilter:
    component_variables: tuple[dict[str, Any], ...] = ()
    criteria: tuple[str, ...] = ()

    @classmethod
    def of(cls, payload: dict[str, Any]) -> ReportFilter:
        """From a GetReportRequest payload (already valid against its schema)."""
        return cls(tuple(payload.get("componentVariable", ())),
                   tuple(payload.get("componentCriteria", ())))

    def selects(self, item: dict[str, Any]) -> bool:
        """Whether the componentVariable items ask for ``item`` (a ReportDataType)."""
        return not self.component_variables or any(
            _matches(wanted, item) for wanted in self.component_variables)

    def any_selected(self, items: Iterable[dict[str, Any]]) -> bool:
        return any(self.selects(item) for item in items)

    def apply(self, report_data: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items of a full report this request asks for."""
        kept = [item for item in report_data if self.selects(item)]
        if not self.criteria:
            return kept
        meeting = {_component_key(item.get("component", {})) for item in report_data
                   if item.get("variable", {}).get("name") in self.criteria
                   and _actual(item) == "true"}
        return [item for item in kept
                if _component_key(item.get("component", {})) in meeting]


class ReportFilters(Protocol):
    """Where a GetReport's filter waits for its NotifyReport (``V201Adapter``)."""

    def expect_report(self, request_id: int, report_filter: ReportFilter) -> None: ...


Ask = Callable[[Any], Awaitable[tuple[dict[str, Any], Any]]]


class ReportRequests:
    """The GetReport handler: ``ask`` hands a request to the core (``CoreRequests.ask``),
    ``catalog()`` is every variable of the station's model (shape only: component and
    variable), ``reports`` the adapter that filters the NotifyReport."""

    def __init__(self, ask: Ask, reports: ReportFilters,
                 catalog: Callable[[], list[dict[str, Any]]]) -> None:
        self._ask = ask
        self._reports = reports
        self._catalog = catalog

    async def get_report(self, frame: Any, payload: dict[str, Any]
                         ) -> tuple[dict[str, Any], Any]:
        limit_items(payload.get("componentVariable", ()), "componentVariable")
        report_filter = ReportFilter.of(payload)
        if not report_filter.any_selected(self._catalog()):
            return {"status": "EmptyResultSet"}, None
        self._reports.expect_report(payload["requestId"], report_filter)
        fields, continuation = await self._ask(ev.ConfigurationReportRequested(
            (frame.action, frame.message_id), payload["requestId"]))
        return {"status": fields.get("status", "Rejected")}, continuation
