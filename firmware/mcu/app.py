"""The MCU side of the link: host bytes in, SafetyController calls, bytes out (sans-I/O).

Runs unchanged on MicroPython and CPython; firmware/mcu/main.py wires it to the UART, and the
host driver's tests run it in CPython as the MCU at the other end of a pseudo-terminal.
"""

from firmware.mcu import protocol as p

FIRMWARE_VERSION = "0.1.0"
KEEPALIVE_INTERVAL_MS = 1000  # MCU -> host, like Yeti's 1 Hz keep-alive (hardware.md §3.5)


class McuApp:
    """Decodes host frames, applies them to the controller, frames its events.

    feed(data, now_ms) and poll(now_ms) return the bytes to write to the host. A frame with
    a bad CRC is dropped (the host retransmits); a well-formed frame of an unknown TYPE or
    with a payload of the wrong length is acked ACK_UNKNOWN and changes nothing; a command
    the controller refuses is acked ACK_REFUSED. Any valid frame counts as the host's
    keep-alive.
    """

    def __init__(self, controller, now_ms: int = 0, version: str = FIRMWARE_VERSION) -> None:
        self.controller = controller
        self.decoder = p.Decoder()
        self.link = p.Link()
        self.version = version
        self._boot_ms = now_ms
        self._next_keepalive_ms = now_ms

    def uptime_s(self, now_ms: int) -> int:
        return (now_ms - self._boot_ms) // 1000

    def feed(self, data: bytes, now_ms: int) -> bytes:
        out = bytearray()
        for frame in self.decoder.feed(data):
            delivered, wire = self.link.receive(frame, now_ms)
            out.extend(wire)
            self.controller.host_heard(now_ms)
            if delivered is not None:
                out.extend(self._handle(delivered, now_ms))
        out.extend(self.poll(now_ms))
        return bytes(out)

    def _handle(self, frame, now_ms: int) -> bytes:
        ctl = self.controller
        kind = frame.kind
        size = len(frame.payload)
        reply = b""
        if kind == p.CMD_OFFER_CURRENT and size == 2:
            status = ctl.offer_current(p.decode_u16(frame.payload), now_ms)
        elif kind == p.CMD_ALLOW_ENERGY and size == 0:
            status = ctl.allow_energy(now_ms)
        elif kind == p.CMD_FORBID_ENERGY and size == 0:
            status = ctl.forbid_energy(now_ms)
        elif kind == p.CMD_READ_STATE and size == 0:
            status = p.ACK_OK
            reply = self.link.send_unacked(p.MSG_STATE, ctl.state_payload(self.uptime_s(now_ms)))
        elif kind == p.CMD_SELF_TEST and size == 0:
            status = ctl.self_test(now_ms)
        elif kind == p.CMD_VERSION and size == 0:
            status = p.ACK_OK
            payload = bytes([p.PROTOCOL_MAJOR, p.PROTOCOL_MINOR]) + self.version.encode()
            reply = self.link.send_unacked(p.MSG_VERSION, payload)
        else:
            status = p.ACK_UNKNOWN
        return self.link.ack(frame, status) + reply

    def poll(self, now_ms: int) -> bytes:
        """Timers, the controller's events, retransmissions and the 1 Hz keep-alive."""
        ctl = self.controller
        ctl.tick(now_ms)
        out = bytearray()
        for kind, payload in ctl.take_events():
            out.extend(self.link.send(kind, payload, now_ms))
        out.extend(self.link.poll(now_ms))
        if now_ms >= self._next_keepalive_ms:
            self._next_keepalive_ms = now_ms + KEEPALIVE_INTERVAL_MS
            payload = ctl.state_payload(self.uptime_s(now_ms))
            out.extend(self.link.send_unacked(p.MSG_KEEPALIVE, payload))
        return bytes(out)
