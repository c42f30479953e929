"""The ``borne`` command.

    borne run --config SITE.toml            run the agent in the foreground
              [--force-protocol-switch]     ... discarding messages queued in another
                                            OCPP version ([ocpp] protocol was changed)
    borne check-config --config SITE.toml   validate; exit 0, or list problems and exit 2
    borne passwd --config SITE.toml USER --role ROLE   add or change a console account

Exit codes: 0 stopped cleanly; 1 could not start (a device or the database, the
message says which and how to fix it); 2 bad configuration; 70 a bug stopped the agent
(logged with the event it was handling; systemd's ``Restart=on-failure`` starts it
again and it recovers from its database); 75 a CSMS Reset asked for a restart under
systemd (the unit restarts us, ``RestartForceExitStatus=75``). Outside systemd a Reset
re-executes the process itself.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from firmware import logs
from firmware.errors import EXIT_BUG, AgentBug, ConfigError, StartupError, StoreError

EXIT_CONFIG = 2
EXIT_STARTUP = 1
EXIT_RESTART = 75

log = logging.getLogger("firmware")


def _parser() -> argparse.ArgumentParser:
    from firmware import __version__

    parser = argparse.ArgumentParser(prog="borne", description="Borne charge-point agent")
    parser.add_argument("--version", action="version",
                        version=f"borne {__version__} (OCPP 1.6J)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the agent in the foreground")
    run.add_argument("--config", required=True, help="site configuration TOML")
    run.add_argument("--log-level", help="override [log] level (DEBUG shows OCPP frames)")
    run.add_argument("--force-protocol-switch", action="store_true",
                     help="start even though transaction messages of another OCPP version "
                          "than [ocpp] protocol are queued: they are DISCARDED (logged), "
                          "never sent in the wrong version")
    check = sub.add_parser("check-config", help="validate a site config and its board config")
    check.add_argument("--config", required=True, help="site configuration TOML")
    reset = sub.add_parser(
        "reset-ocpp-config",
        help="forget the OCPP keys the CSMS or console set, so the next start applies "
             "[ocpp.defaults] again (stop the agent first; transactions and the queue stay)")
    reset.add_argument("--config", required=True, help="site configuration TOML")
    passwd = sub.add_parser("passwd", help="add or change a console account (asks the "
                            "password twice; writes a salted hash into the site config)")
    passwd.add_argument("--config", required=True, help="site configuration TOML")
    passwd.add_argument("user")
    passwd.add_argument("--role", required=True, choices=("viewer", "technician", "admin"))
    return parser


def passwd(path: str, user: str, role: str) -> int:
    import getpass
    from pathlib import Path

    from firmware.console.passwd import set_account

    try:
        first = getpass.getpass(f"password for {user}: ")
        if getpass.getpass("again: ") != first:
            print("the passwords differ; nothing changed", file=sys.stderr)
            return EXIT_CONFIG
        set_account(Path(path), user, role, first)
    except (ValueError, OSError, EOFError) as e:
        print(f"{path}: {e}; nothing changed", file=sys.stderr)
        return EXIT_CONFIG
    print(f"{path}: account {user} ({role}) written")
    return 0


def _load(path: str):
    """The site config, or None after printing every problem as FILE: key: problem."""
    from firmware.config import load_site_config

    try:
        return load_site_config(path)
    except ConfigError as e:
        for problem in e.problems:
            print(problem, file=sys.stderr)
        return None


def check_config(path: str) -> int:
    site = _load(path)
    if site is None:
        return EXIT_CONFIG
    print(f"{path}: OK (station {site.station['id']}, board {site.board.name}, "
          f"{len(site.board.connectors)} connector(s))")
    return 0


def reset_ocpp_config(path: str) -> int:
    """Delete the persisted OCPP configuration keys; the next start is a first boot for
    them (DESIGN §3: the CSMS owns them after the first boot)."""
    from firmware.store.db import StoreError, atomic, open_database

    site = _load(path)
    if site is None:
        return EXIT_CONFIG
    try:
        conn = open_database(site.state_dir)
        with atomic(conn):
            count = conn.execute("DELETE FROM config_keys").rowcount
        conn.close()
    except (StoreError, OSError) as e:
        print(f"{path}: storage.state_dir: cannot reset: {e}", file=sys.stderr)
        return EXIT_STARTUP
    print(f"forgot {count} OCPP configuration key(s); the next start applies "
          "[ocpp.defaults] again")
    return 0


def run(path: str, log_level: str | None, force_protocol_switch: bool = False) -> int:
    from firmware.app import build_agent, run as run_agent

    site = _load(path)
    if site is None:
        return EXIT_CONFIG
    logs.configure(log_level or site.log["level"])
    try:
        agent = build_agent(site, force_protocol_switch=force_protocol_switch)
        restart = asyncio.run(run_agent(agent))
    except (StartupError, StoreError) as e:
        log.critical("cannot start: %s", e)
        return EXIT_STARTUP
    except ConfigError as e:
        for problem in e.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    except AgentBug:
        return EXIT_BUG  # logged by the runtime, with the event
    except KeyboardInterrupt:
        return 0
    except Exception:  # a bug before the agent ran (building it): the same policy
        log.critical("bug while starting the agent; exit %d", EXIT_BUG, exc_info=True)
        return EXIT_BUG
    if restart is None:
        log.info("stopped")
        return 0
    from firmware import systemd

    if systemd.under_systemd():
        log.warning("%s reset: exiting for systemd to restart us", restart)
        return EXIT_RESTART
    log.warning("%s reset: re-executing", restart)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "firmware", "run", "--config", path]
             + (["--log-level", log_level] if log_level else []))
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        return check_config(args.config)
    if args.command == "passwd":
        return passwd(args.config, args.user, args.role)
    if args.command == "reset-ocpp-config":
        return reset_ocpp_config(args.config)
    return run(args.config, args.log_level, args.force_protocol_switch)


if __name__ == "__main__":
    sys.exit(main())
