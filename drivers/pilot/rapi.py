"""Sans-I/O codec of OpenEVSE RAPI (hardware.md §3.5; lincomatic/open_evse rapi_proc).

Frames are ASCII lines ``$cc p1 p2 … [:ss]^xk\\r``: ``xk`` = XOR of every character
before ``^`` (two hex digits); ``*ck`` = 8-bit sum of those characters is also
accepted. ``:ss`` is an optional sequence id (hex) that the controller echoes in its
reply. Replies: ``$OK …`` / ``$NK …``; notifications: ``$AT state pilot amps vflags``
(firmware ≥ 6.0, on every change), ``$ST state`` (older), ``$AB 00 version`` (boot).

Decoding is strict: a ``$`` restarts the line (noise before it is dropped); a line
without a valid checksum, non-ASCII bytes or an overlong line is a ``BadLine``, never
a reply or a state.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from hal.interfaces import ControllerFault, PilotState

MAX_LINE = 64

# EVSE states (hex codes from J1772EvseController.h)
STATE_A, STATE_B, STATE_C, STATE_D = 0x01, 0x02, 0x03, 0x04
STATE_DIODE_FAULT = 0x05
STATE_STUCK_RELAY = 0x08
STATE_RELAY_CLOSURE_FAULT = 0x0E
STATE_SLEEPING = 0xFE
STATE_DISABLED = 0xFF
STATE_NAMES = {0x01: "A not connected", 0x02: "B connected", 0x03: "C charging",
               0x04: "D ventilation required", 0x05: "diode check failed",
               0x06: "GFCI fault", 0x07: "no ground", 0x08: "stuck relay",
               0x09: "GFI self-test failed", 0x0A: "over temperature", 0x0B: "over current",
               0x0E: "relay closure fault", 0xFE: "sleeping", 0xFF: "disabled"}

# Controller faults → OCPP 1.6 ChargePointErrorCode ([16] §7.6); the controller's state
# code goes into vendorErrorCode. Documented in board_configs/README.md.
CONTROLLER_FAULTS = {
    0x05: "EVCommunicationError",   # diode check failed: the EV's pilot circuit
    0x06: "GroundFailure",          # GFCI (residual current) trip
    0x07: "GroundFailure",          # no ground
    0x08: "PowerSwitchFailure",     # stuck relay (welded)
    0x09: "GroundFailure",          # GFI self-test failed
    0x0A: "HighTemperature",        # over temperature
    0x0B: "OverCurrentFailure",     # over current
    0x0E: "PowerSwitchFailure",     # relay closure fault
}

VFLAG_HARD_FAULT = 0x0002
VFLAG_CHARGING = 0x0040
VFLAG_EV_CONNECTED = 0x0100

_PILOT = {STATE_A: PilotState.A, STATE_B: PilotState.B, STATE_C: PilotState.C,
          STATE_D: PilotState.D}


def xor_checksum(text: str) -> int:
    return reduce(lambda a, c: a ^ ord(c), text, 0)


def sum_checksum(text: str) -> int:
    return sum(ord(c) for c in text) & 0xFF


def encode_command(cmd: str, *params: object, seq: int | None = None) -> bytes:
    """``encode_command("SC", 16, "V", seq=5)`` → ``b"$SC 16 V :05^..\\r"``."""
    if len(cmd) != 2 or not cmd.isalnum():
        raise ValueError(f"RAPI command is two letters, got {cmd!r}")
    body = "$" + cmd + "".join(f" {p}" for p in params)
    if seq is not None:
        if not 0 <= seq <= 0xFF:
            raise ValueError("sequence id is one byte")
        body += f" :{seq:02X}"
    return f"{body}^{xor_checksum(body):02X}\r".encode("ascii")


@dataclass(frozen=True)
class Reply:
    ok: bool
    params: tuple[str, ...]
    seq: int | None = None


@dataclass(frozen=True)
class Notification:
    """Any line that is not a reply: ``$AT``/``$ST``/``$AB`` from the controller (or a
    command, when a test peer decodes what the host sent)."""

    kind: str
    params: tuple[str, ...]
    seq: int | None = None


@dataclass(frozen=True)
class BadLine:
    line: str
    reason: str


Message = Reply | Notification | BadLine


def parse_line(line: str) -> Message:
    """Parse one line (without the trailing CR)."""
    if not line.startswith("$"):
        return BadLine(line, "does not start with '$'")
    if "^" in line:
        body, _, check = line.rpartition("^")
        expected = xor_checksum(body)
    elif "*" in line:
        body, _, check = line.rpartition("*")
        expected = sum_checksum(body)
    else:
        return BadLine(line, "no checksum")
    if len(check) != 2 or not all(c in "0123456789abcdefABCDEF" for c in check):
        return BadLine(line, "malformed checksum")
    if int(check, 16) != expected:
        return BadLine(line, "checksum mismatch")
    tokens = body[1:].split()
    if not tokens or len(tokens[0]) != 2:
        return BadLine(line, "no command")
    kind, params = tokens[0].upper(), tokens[1:]
    seq = None
    if params and params[-1].startswith(":"):
        try:
            seq = int(params[-1][1:], 16)
        except ValueError:
            return BadLine(line, "malformed sequence id")
        params = params[:-1]
    if kind in ("OK", "NK"):
        return Reply(kind == "OK", tuple(params), seq)
    return Notification(kind, tuple(params), seq)


class LineDecoder:
    """Bytes → messages. A ``$`` always starts a new line (as in the firmware)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_line = False

    def feed(self, data: bytes) -> list[Message]:
        out: list[Message] = []
        for byte in data:
            if byte == 0x24:                                   # '$'
                if self._in_line and self._buf:
                    out.append(BadLine(self._buf.decode("latin-1"), "truncated by '$'"))
                self._buf = bytearray(b"$")
                self._in_line = True
            elif byte in (0x0D, 0x0A):
                if self._in_line:
                    out.append(self._finish())
            elif self._in_line:
                self._buf.append(byte)
                if len(self._buf) > MAX_LINE:
                    out.append(BadLine(self._buf.decode("latin-1"), "line too long"))
                    self._buf.clear()
                    self._in_line = False
        return out

    def _finish(self) -> Message:
        raw = bytes(self._buf)
        self._buf.clear()
        self._in_line = False
        if any(b < 0x20 or b > 0x7E for b in raw):
            return BadLine(raw.decode("latin-1"), "non-printable bytes")
        return parse_line(raw.decode("ascii"))


# -- state interpretation ---------------------------------------------------------------
def parse_hex(token: str) -> int | None:
    try:
        return int(token, 16)
    except ValueError:
        return None


@dataclass(frozen=True)
class EvseStatus:
    """What the controller reported last. ``None`` = not reported (older firmware)."""

    evse_state: int
    pilot_state: int | None = None
    vflags: int | None = None

    @property
    def is_fault(self) -> bool:
        s = self.evse_state
        return STATE_D < s < STATE_SLEEPING or bool((self.vflags or 0) & VFLAG_HARD_FAULT)

    @property
    def relay_closed(self) -> bool:
        if self.vflags is not None:
            return bool(self.vflags & VFLAG_CHARGING)
        return self.evse_state == STATE_C

    def fault(self) -> ControllerFault | None:
        """The controller's own fault, mapped to OCPP; None when there is none."""
        if not self.is_fault:
            return None
        code = CONTROLLER_FAULTS.get(self.evse_state, "OtherError")
        return ControllerFault(code, f"OpenEVSE {self.evse_state:02X}", self.describe())

    def pilot(self) -> PilotState | None:
        """IEC 61851 state as the EV side shows it; None while unknown.

        During a controller fault the controller drives -12 V (F) itself; what matters
        to the agent is whether the EV is still there, so the EV's pilot reading (or the
        "EV connected" flag) is reported, never F as an unplug (the fault comes through
        ``fault()``). None when the controller does not tell."""
        s = self.evse_state
        if s in _PILOT:
            return _PILOT[s]
        if s == STATE_DISABLED:
            return PilotState.F       # EVSE not available
        if self.is_fault or s == STATE_SLEEPING:
            # sleeping: +12 V without PWM; the controller still reads the EV
            if self.pilot_state in _PILOT:
                return _PILOT[self.pilot_state]
            if self.vflags is not None:
                return PilotState.B if self.vflags & VFLAG_EV_CONNECTED else PilotState.A
        return None

    def describe(self) -> str:
        return STATE_NAMES.get(self.evse_state, f"state 0x{self.evse_state:02X}")


def status_from_gs(params: tuple[str, ...]) -> EvseStatus | None:
    """``$GS`` reply: ``state elapsed_s [pilot_state vflags]`` (hex state/pilot/vflags)."""
    if not params:
        return None
    state = parse_hex(params[0])
    if state is None:
        return None
    pilot = parse_hex(params[2]) if len(params) > 2 else None
    vflags = parse_hex(params[3]) if len(params) > 3 else None
    return EvseStatus(state, pilot, vflags)


def status_from_notification(msg: Notification) -> EvseStatus | None:
    """``$AT state pilot amps vflags`` or ``$ST state``."""
    if msg.kind == "AT" and len(msg.params) >= 4:
        state, pilot, vflags = (parse_hex(msg.params[i]) for i in (0, 1, 3))
        if state is None:
            return None
        return EvseStatus(state, pilot, vflags)
    if msg.kind == "ST" and msg.params:
        state = parse_hex(msg.params[0])
        return None if state is None else EvseStatus(state)
    return None
