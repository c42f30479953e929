"""Board-config options of the ZVT payment terminal drivers ``zvt`` (RS-232) and
``zvt_tcp`` (TCP), and their ``build`` functions."""

from __future__ import annotations

from typing import Any

from drivers import serial_options
from drivers.payment import zvt_serial_framing as fr
from drivers.payment.zvt_link import SerialZvtLink, TcpZvtLink
from drivers.payment.zvt_terminal import CAPTURE_METHODS, ZvtPaymentTerminal
from drivers.registry import BuildContext, DriverSpec
from hal.options import Option, optional, required

_T = fr.ZvtTimeouts()


def _password_check(value: int) -> str | None:
    if not 0 <= value <= 999999:
        return "must be the terminal's 6-digit ECR password, 0..999999"
    return None


COMMON: tuple[Option, ...] = (
    optional("password", int, 0, "the terminal's ECR password (6 digits, sent with "
             "registration and end-of-day; never logged)", check=_password_check),
    optional("currency_code", int, 978, "ISO 4217 numeric currency sent with every amount "
             "(978 = EUR)", minimum=1, maximum=999),
    optional("capture_method", str, "partial_reversal",
             "how a smaller final amount is captured: 'partial_reversal' (06 23 releases "
             "the unused part) or 'book_total' (06 24 books the used amount)",
             choices=CAPTURE_METHODS),
    optional("config_byte", int, 0xDE, "ZVT registration config byte (222 = 0xDE, the value "
             "of EVerest's captured registration; see the terminal's ZVT manual)",
             minimum=0, maximum=255),
    optional("t1_s", float, _T.t1_s, "ZVT T1: longest gap between two bytes of a serial "
             "frame, s", minimum=0.01, maximum=10),
    optional("t2_s", float, _T.t2_s, "ZVT T2: longest wait for the terminal's answer to a "
             "command, s", minimum=0.1, maximum=120),
    optional("t3_s", float, _T.t3_s, "ZVT T3: longest wait for the ACK of a serial frame "
             "(and for a TCP connect), s", minimum=0.1, maximum=60),
    optional("t4_s", float, _T.t4_s, "ZVT T4: longest wait for the terminal's next message "
             "while a payment runs (the customer at the PIN pad), s", minimum=1, maximum=600),
    optional("transaction_timeout_s", float, 300.0, "bound of one whole operation; the "
             "terminal is told to abort when it expires, s", minimum=1, maximum=1800),
)


def _host_check(value: str) -> str | None:
    if not value or any(c.isspace() for c in value) or "/" in value:
        return f"must be a host name or IP address such as '192.168.1.163', got {value!r}"
    return None


def _timeouts(options: dict[str, Any]) -> fr.ZvtTimeouts:
    return fr.ZvtTimeouts(t1_s=options.get("t1_s", _T.t1_s), t2_s=options["t2_s"], t3_s=options["t3_s"],
                          t4_s=options["t4_s"])


def _terminal(ctx: BuildContext, options: dict[str, Any], link: Any,
              backend: str) -> ZvtPaymentTerminal:
    return ZvtPaymentTerminal(link, name=ctx.name, backend=backend,
                              password=options["password"],
                              currency_code=options["currency_code"],
                              capture_method=options["capture_method"],
                              config_byte=options["config_byte"],
                              timeouts=_timeouts(options),
                              transaction_timeout_s=options["transaction_timeout_s"])


def _build_serial(ctx: BuildContext, options: dict[str, Any]) -> ZvtPaymentTerminal:
    settings, rest = serial_options.split(options)
    return _terminal(ctx, rest, SerialZvtLink(settings, _timeouts(rest)), "zvt")


def _build_tcp(ctx: BuildContext, options: dict[str, Any]) -> ZvtPaymentTerminal:
    link = TcpZvtLink(options["host"], options["tcp_port"], _timeouts(options))
    return _terminal(ctx, options, link, "zvt_tcp")


SERIAL_SPEC = DriverSpec(
    "payment", "zvt",
    serial_options.serial_options(baudrate=9600, stopbits=2, what="payment terminal")
    + COMMON,
    _build_serial,
    "Card payment terminal over ZVT (ECR interface) on RS-232: DLE STX framing, "
    "CRC-16/KERMIT, ACK/NAK; ZVT's default line is 9600 8N2.")

TCP_SPEC = DriverSpec(
    "payment", "zvt_tcp",
    (required("host", str, "IP address or host name of the terminal", check=_host_check),
     optional("tcp_port", int, 20007, "TCP port of the terminal's ZVT interface (FEIG "
              "cVEND: 22000)", minimum=1, maximum=65535))
    + tuple(o for o in COMMON if o.name != "t1_s"),
    _build_tcp,
    "Card payment terminal over ZVT (ECR interface) on TCP: bare APDUs. A terminal that is "
    "down at start is reconnected at the next payment operation.")

SPECS = (SERIAL_SPEC, TCP_SPEC)
