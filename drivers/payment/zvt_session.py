"""Sans-I/O ZVT dialogue of one ECR command (hardware.md §4.3/§4.4).

The ECR sends a command; the terminal (PT) answers ``80 00 00`` (accepted) or
``84 xx`` (refused), then streams intermediate statuses (04 FF), status information
(04 0F) and print lines (06 D1/06 D3), each of which the ECR acknowledges with
``80 00 00``, and ends with a completion (06 0F) or an abort (06 1E + result code),
also acknowledged. ``ZvtDialogue.receive(raw_apdu)`` returns the bytes to send back and
tells when the dialogue is over; the device adds the I/O and the timeouts (T2 for the
first answer, T4 for each later message, ``timeout_s()``).

Failure modes: APDUs that do not decode are answered with ``84 9A 00`` (protocol error)
and counted; after ``MAX_UNDECODABLE`` in a row ``receive`` raises ``ProtocolError``.
APDUs of unknown commands are answered with ``84 83 00`` and otherwise ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.errors import ProtocolError
from drivers.payment import zvt_codec as zvt
from drivers.payment.zvt_fields import ZvtDecodeError
from drivers.payment.zvt_serial_framing import ZvtTimeouts

MAX_UNDECODABLE = 3


@dataclass
class DialogueResult:
    """How the dialogue ended: exactly one of ``completion``, ``pt_abort`` and
    ``refused`` (the 84 xx code) is set, or ``accepted`` alone for a command that only
    expects the terminal's ACK."""

    accepted: bool = False
    refused: int | None = None
    completion: zvt.Completion | None = None
    pt_abort: zvt.PtAbort | None = None
    status: zvt.StatusInformation | None = None      # the last 04 0F
    intermediate: list[int] = field(default_factory=list)
    receipt_lines: list[str] = field(default_factory=list)

    @property
    def failure_code(self) -> int | None:
        """The terminal's reason when it did not do what was asked, else None."""
        if self.refused is not None:
            return self.refused
        if self.pt_abort is not None:
            return self.pt_abort.result_code
        if self.status is not None and self.status.result_code not in (None, 0):
            return self.status.result_code
        if self.completion is not None and self.completion.result_code not in (None, 0):
            return self.completion.result_code
        return None


class ZvtDialogue:
    """One command to its end. ``expects_completion=False`` for commands the terminal
    only acknowledges (the ECR's abort 06 B0)."""

    def __init__(self, command: bytes, *, expects_completion: bool = True) -> None:
        self.command = command
        self.expects_completion = expects_completion
        self.accepted = False
        self.done = False
        self.result = DialogueResult()
        self.abort_sent = False
        self._undecodable = 0

    def timeout_s(self, timeouts: ZvtTimeouts) -> float:
        """How long to wait for the terminal's next message."""
        return timeouts.t4_s if self.accepted else timeouts.t2_s

    def abort(self) -> bytes | None:
        """The ECR's abort (06 B0) to send now, once, while the command runs."""
        if self.done or self.abort_sent:
            return None
        self.abort_sent = True
        return zvt.abort()

    def receive(self, raw: bytes) -> list[bytes]:
        """Feed one APDU from the terminal; returns the replies to send, in order."""
        if self.done:
            return []   # a late repeat after the end: nothing is owed any more
        try:
            message = zvt.decode_pt_message(zvt.parse_apdu(raw))
        except ZvtDecodeError as exc:
            self._undecodable += 1
            if self._undecodable >= MAX_UNDECODABLE:
                raise ProtocolError(f"terminal sent {self._undecodable} undecodable messages "
                                    f"in a row (last: {exc})") from exc
            return [zvt.nack(zvt.RESULT_PROTOCOL_ERROR)]
        self._undecodable = 0
        return self._message(message)

    def _message(self, message: zvt.PtMessage) -> list[bytes]:
        r = self.result
        if isinstance(message, zvt.PositiveAck):
            if not self.accepted:
                self.accepted = r.accepted = True
                if not self.expects_completion:
                    self.done = True
            return []                       # later ACKs answer our own 06 B0
        if isinstance(message, zvt.NegativeAck):
            if not self.accepted:
                r.refused = message.code
                self.done = True
            return []
        if isinstance(message, zvt.UnknownMessage):
            return [zvt.nack(zvt.RESULT_FUNCTION_NOT_POSSIBLE)]
        # anything else means the terminal took the command, even without its 80 00 00
        self.accepted = r.accepted = True
        if isinstance(message, zvt.IntermediateStatus):
            r.intermediate.append(message.status)
        elif isinstance(message, zvt.StatusInformation):
            r.status = message
        elif isinstance(message, zvt.PrintLine):
            r.receipt_lines.append(message.text)
        elif isinstance(message, zvt.Completion):
            r.completion = message
            self.done = True
        elif isinstance(message, zvt.PtAbort):
            r.pt_abort = message
            self.done = True
        return [zvt.ACK]
