"""`python -m devcsms`: run the development CSMS in the foreground, one readable line per message.

    python -m devcsms --host 127.0.0.1 --port 9000 [--boot Accepted|Pending|Rejected]
                      [--heartbeat-interval 300] [--reject-tag TAG ...] [--tag TAG=STATUS ...]
                      [--first-transaction-id 1001] [--basic-auth ID=PASSWORD ...] [--ocpp 1.6|2.0.1|2.1 ...]
                      [--receipt-url TEMPLATE]
                      [--certfile CERT --keyfile KEY] [--uploads DIR] [--stop-on-stdin-close]

It speaks OCPP 1.6J, 2.0.1 and 2.1 (each station's offer decides); `--ocpp` limits it to the versions named.
Prints "devcsms: listening on ws://HOST:PORT/ocpp" once bound (with the real port when --port 0), then
one line per message on stdout, flushed. SIGINT/SIGTERM (or, with --stop-on-stdin-close, the end of
stdin) close every connection (1001) and exit 0.
Exit 1 when the port cannot be bound, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import signal
import ssl
import sys
from pathlib import Path

from devcsms.dialects import SUBPROTOCOLS
from devcsms.operator import ScriptError, Step, load, run_for_each_station
from devcsms.firmware import FirmwareOffer, FirmwareOfferError
from devcsms.policy import AUTHORIZATION_STATUSES_201, REGISTRATION_STATUSES, ReceiptPolicy
from devcsms.server import DevCsms
from devcsms.uploads import UploadServer
from devcsms.station import LIBRARY_LOGGER


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devcsms", description="Development OCPP 1.6J / 2.0.1 / 2.1 CSMS.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9000, help="TCP port; 0 picks a free one (default 9000)")
    parser.add_argument("--path", default="/ocpp", help="URL path before the station identity (default /ocpp)")
    parser.add_argument("--boot", choices=REGISTRATION_STATUSES, default="Accepted", help="BootNotification answer")
    parser.add_argument(
        "--heartbeat-interval",
        type=int,
        default=300,
        metavar="SECONDS",
        help="interval in the BootNotification answer: heartbeat interval when Accepted, "
        "retry wait when Pending/Rejected (default 300)",
    )
    parser.add_argument(
        "--reject-tag", action="extend", nargs="+", default=[], metavar="TAG", help="answer Invalid for these idTags"
    )
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG=STATUS",
        help=f"answer STATUS ({', '.join(AUTHORIZATION_STATUSES_201)}) for TAG (1.6: Invalid for the 2.0.1-only ones)",
    )
    parser.add_argument(
        "--ocpp",
        action="append",
        choices=[name.removeprefix("ocpp") for name in SUBPROTOCOLS],
        metavar="VERSION",
        help="offer only this OCPP version (1.6, 2.0.1 or 2.1; repeat for several; default all)",
    )
    parser.add_argument(
        "--receipt-url",
        metavar="TEMPLATE",
        help="2.1: answer each NotifySettlement with this receiptUrl ({station} and {psp_ref} filled in)",
    )
    parser.add_argument("--first-transaction-id", type=int, default=1001, metavar="N")
    parser.add_argument(
        "--basic-auth",
        action="append",
        default=[],
        metavar="ID=PASSWORD",
        help="require HTTP Basic auth; repeat for each station identity",
    )
    parser.add_argument("--certfile", help="serve wss:// with this PEM certificate (chain)")
    parser.add_argument("--keyfile", help="private key for --certfile")
    parser.add_argument(
        "--script",
        type=Path,
        metavar="FILE",
        help="operator script run for each station once its boot is accepted (devcsms/operator.py: "
        "profile, reserve, call ...)",
    )
    parser.add_argument(
        "--offer-firmware",
        metavar="IMAGE",
        help="serve IMAGE on 127.0.0.1 and send each station a signed firmware update for it after its "
        "BootNotification (signing key made at run time, its root certificate written to --firmware-roots)",
    )
    parser.add_argument(
        "--firmware-roots",
        default=".dev/firmware-roots",
        metavar="DIR",
        help="where --offer-firmware writes its manufacturer root certificate (default .dev/firmware-roots)",
    )
    parser.add_argument(
        "--uploads",
        metavar="DIR",
        help="accept GetLog/GetDiagnostics uploads over HTTP on 127.0.0.1 (port 0) into DIR; "
        "POST /request/getlog?station=ID&type=DiagnosticsLog|SecurityLog or "
        "/request/getdiagnostics?station=ID on that port makes the CSMS ask for one",
    )
    parser.add_argument(
        "--stop-on-stdin-close",
        action="store_true",
        help="also stop at end of file on stdin (a launcher passes a pipe so the CSMS dies with it)",
    )
    return parser


def _pairs(parser: argparse.ArgumentParser, values: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, separator, rest = value.partition("=")
        if not separator or not key:
            parser.error(f"{option} expects KEY=VALUE, got {value!r}")
        pairs[key] = rest
    return pairs


def make_csms(arguments: argparse.Namespace, parser: argparse.ArgumentParser, emit) -> DevCsms:
    tag_rules: dict[str, str] = {tag: "Invalid" for tag in arguments.reject_tag}
    for tag, status in _pairs(parser, arguments.tag, "--tag").items():
        if status not in AUTHORIZATION_STATUSES_201:
            parser.error(f"--tag {tag}={status}: status must be one of {', '.join(AUTHORIZATION_STATUSES_201)}")
        tag_rules[tag] = status
    basic_auth = _pairs(parser, arguments.basic_auth, "--basic-auth") or None
    ssl_context = None
    if arguments.certfile:
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_context.load_cert_chain(arguments.certfile, arguments.keyfile)
    elif arguments.keyfile:
        parser.error("--keyfile needs --certfile")
    try:
        ReceiptPolicy(arguments.receipt_url)
    except ValueError as error:
        parser.error(f"--receipt-url: {error}")
    return DevCsms(
        arguments.host,
        arguments.port,
        path=arguments.path,
        boot_status=arguments.boot,
        boot_interval_s=arguments.heartbeat_interval,
        tag_rules=tag_rules,
        first_transaction_id=arguments.first_transaction_id,
        basic_auth=basic_auth,
        ssl_context=ssl_context,
        printer=emit,
        subprotocols=[f"ocpp{version}" for version in arguments.ocpp] if arguments.ocpp else SUBPROTOCOLS,
        receipt_url=arguments.receipt_url,
    )


async def _wait_until_stdin_closes() -> None:
    """Return at end of file on stdin (the launcher that holds the other end of the pipe is gone)."""
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass  # nobody is expected to write; anything written is ignored


def log_requester(csms: DevCsms, uploads):
    """The upload server's control: send GetLog / GetDiagnostics with it as the location."""
    requests = itertools.count(1)

    async def request(kind: str, args: dict[str, str]) -> dict:
        url = uploads().url
        if kind == "getdiagnostics":
            return await csms.call(args["station"], ("GetDiagnostics", {"location": url}))
        if kind == "getlog":
            return await csms.call(args["station"], ("GetLog", {
                "logType": args.get("type", "DiagnosticsLog"), "requestId": next(requests),
                "log": {"remoteLocation": url}}))
        raise ValueError(f"unknown request {kind!r}: getlog or getdiagnostics")

    return request


async def serve_until_signalled(
    csms: DevCsms,
    emit,
    stop: asyncio.Event,
    *,
    stop_on_stdin_close: bool,
    uploads_dir: str | None = None,
    script: list[Step] | None = None,
    offer: FirmwareOffer | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM, `stop` is set (e.g. stdout went away) or, with `stop_on_stdin_close`,
    stdin reaches end of file; return the exit status."""
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    try:
        try:
            await csms.start()
        except OSError as error:
            print(f"devcsms: cannot listen on {csms.host}:{csms.requested_port}: {error}", file=sys.stderr, flush=True)
            return 1
        emit(f"devcsms: listening on {csms.url}")  # the URL last: launchers read it from there
        emit(
            f"devcsms: boot {csms.boot.status} interval={csms.boot.interval_s} s, "
            f"first transactionId {csms.first_transaction_id} (1.6), speaks {', '.join(csms.subprotocols)}"
        )
        if offer is not None:
            await offer.start()
            emit(f"devcsms: serving firmware at {offer.url}; root certificate in {offer.roots_dir}")
        uploads = None
        if uploads_dir is not None:
            uploads = UploadServer(Path(uploads_dir), on_request=log_requester(csms, lambda: uploads))
            await uploads.start()
            emit(f"devcsms: uploads into {uploads_dir} at {uploads.url}; ask with: curl -X POST "
                 f"'http://127.0.0.1:{uploads.port}/request/getlog?station=ID&type=DiagnosticsLog'")
        async with asyncio.TaskGroup() as tasks:
            offering = tasks.create_task(offer.offer_after_boot(csms, emit)) if offer is not None else None
            if stop_on_stdin_close:
                stdin_watch = tasks.create_task(_wait_until_stdin_closes())
                stdin_watch.add_done_callback(lambda _: stop.set())
            operator = tasks.create_task(run_for_each_station(csms, script, emit)) if script else None
            await stop.wait()
            if stop_on_stdin_close:
                stdin_watch.cancel()
            if operator is not None:
                operator.cancel()
            if offering is not None:
                offering.cancel()
        if offer is not None:
            await offer.close()
        emit("devcsms: stopping")
        if uploads is not None:
            await uploads.close()
        await csms.close()
        return 0
    finally:
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signal_number)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="devcsms %(levelname)s %(name)s: %(message)s")
    # Refused CP requests are already printed as violations; the library's tracebacks would only repeat them.
    LIBRARY_LOGGER.setLevel(logging.CRITICAL)

    async def run() -> int:
        stop = asyncio.Event()

        def emit(line: str) -> None:
            try:
                print(line, flush=True)
            except BrokenPipeError:
                # Whoever read our output is gone (e.g. the launcher was killed): shut down quietly.
                sys.stdout = open(os.devnull, "w")
                stop.set()

        try:
            script = load(arguments.script) if arguments.script else None
        except ScriptError as error:
            print(f"devcsms: {error}", file=sys.stderr, flush=True)
            return 2
        csms = make_csms(arguments, parser, emit)
        offer = None
        if arguments.offer_firmware:
            try:
                offer = FirmwareOffer(Path(arguments.offer_firmware), Path(arguments.firmware_roots))
            except FirmwareOfferError as error:
                print(f"devcsms: {error}", file=sys.stderr, flush=True)
                return 2
        return await serve_until_signalled(
            csms, emit, stop, stop_on_stdin_close=arguments.stop_on_stdin_close, script=script,
            uploads_dir=arguments.uploads, offer=offer,
        )

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
