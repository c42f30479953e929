"""A fake OpenEVSE controller speaking RAPI on the master side of a pty (test peer)."""

from __future__ import annotations

from drivers.pilot import rapi

EV_CODES = {"A": 0x01, "B": 0x02, "C": 0x03}


class FakeOpenEvse:
    def __init__(self, pty, *, max_current_a=32, async_notifications=True):
        self.pty = pty
        self.max_current_a = max_current_a
        self.async_notifications = async_notifications
        self.ev = "A"
        self.sleeping = False
        self.fault: int | None = None          # e.g. 0x08 stuck relay
        self.relay_can_close = True
        self.relay_welded = False
        self.current_a = max_current_a
        self.milliamps, self.millivolts = 0, 230000
        self.session_ws, self.total_wh = 0, 1000
        self.silent = False
        self.corrupt_next = 0                  # next N replies carry a wrong checksum
        self.stale_reply_first = False         # answer once with a wrong sequence id first
        self.echo_seq = True
        self.commands: list[tuple[str, tuple[str, ...]]] = []
        self.bad_host_lines = 0
        self._relay = False
        self._last_status = None

    # -- state --------------------------------------------------------------------------
    @property
    def evse_state(self) -> int:
        if self.fault is not None:
            return self.fault
        if self.sleeping:
            return 0xFE
        return EV_CODES[self.ev]

    def _update(self) -> None:
        wanted = (not self.sleeping and self.fault is None and self.ev == "C"
                  and self.relay_can_close)
        if self.relay_welded and self._relay:
            wanted = True
        self._relay = wanted
        status = self.status_fields()
        if status != self._last_status:
            self._last_status = status
            if self.async_notifications:
                self.send("AT", *status)

    def status_fields(self):
        vflags = (0x0100 if self.ev != "A" else 0) | (0x0040 if self._relay else 0)
        return (f"{self.evse_state:02x}", f"{EV_CODES[self.ev]:02x}", str(self.current_a),
                f"{vflags:04x}")

    def set_ev(self, ev: str) -> None:
        self.ev = ev
        self._update()

    def set_fault(self, code: int | None) -> None:
        self.fault = code
        self._update()

    def reboot(self) -> None:
        self.sleeping = False
        self.current_a = self.max_current_a
        self.send("AB", "00", "8.2.1")
        self._update()

    # -- wire -------------------------------------------------------------------------
    def send(self, kind: str, *params, seq=None) -> None:
        frame = rapi.encode_command(kind, *params, seq=seq)
        if self.corrupt_next and kind in ("OK", "NK"):
            self.corrupt_next -= 1
            frame = frame[:-3] + (b"00" if frame[-3:-1] != b"00" else b"01") + b"\r"
        self.pty.write(frame)

    def reply(self, ok: bool, *params, seq=None) -> None:
        if self.stale_reply_first and seq is not None:
            self.stale_reply_first = False
            self.send("OK", "stale", seq=(seq + 100) % 256)
        self.send("OK" if ok else "NK", *params, seq=seq if self.echo_seq else None)

    def handle(self, msg) -> None:
        if isinstance(msg, rapi.BadLine):
            self.bad_host_lines += 1
            self.pty.write(b"$NK^21\r")
            return
        if not isinstance(msg, rapi.Notification):
            return
        cmd, params, seq = msg.kind, msg.params, msg.seq
        self.commands.append((cmd, params))
        if self.silent:
            return
        if cmd == "GS":
            state, pilot, _amps, vflags = self.status_fields()
            self.reply(True, state, "12", pilot, vflags, seq=seq)
        elif cmd == "SC":
            amps = int(params[0])
            if amps < 6:
                self.reply(False, "6", seq=seq)
            elif amps > self.max_current_a:
                self.reply(False, str(self.max_current_a), seq=seq)
            else:
                self.current_a = amps
                self.reply(True, seq=seq)
        elif cmd == "FE":
            if self.fault is not None:
                self.reply(False, seq=seq)
                return
            self.sleeping = False
            self.reply(True, seq=seq)
            self._update()
        elif cmd == "FS":
            self.sleeping = True
            self.reply(True, seq=seq)
            self._update()
        elif cmd == "GG":
            self.reply(True, str(self.milliamps), str(self.millivolts), seq=seq)
        elif cmd == "GU":
            self.reply(True, str(self.session_ws), str(self.total_wh), seq=seq)
        else:
            self.reply(False, seq=seq)

    async def run(self) -> None:
        decoder = rapi.LineDecoder()
        while True:
            data = await self.pty.read(timeout_s=60)
            for msg in decoder.feed(data):
                self.handle(msg)

    def sent(self, cmd: str) -> list[tuple[str, ...]]:
        return [p for c, p in self.commands if c == cmd]
