"""Crash safety of list updates: a process applying Full and Differential updates is
SIGKILLed at every step boundary and at random moments; after each kill the list is
exactly the content of the version it reports — old or new, never a mix — through
both the lookup path (mmap index + overlay) and the SQLite source of truth."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.auth.store import AuthorizationStore
from firmware.core.authorization import STATUSES, AuthKeys
from tests.auth.crash_child import expected_state

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("crash_child.py")


def spawn(db: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CHILD), str(db), *args], cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check_consistent(db: Path) -> int:
    """Open after a crash; assert version and content agree; return the version."""
    store = AuthorizationStore(db, keys=AuthKeys())
    try:
        version = store.list_version()
        expected = expected_state(version)
        assert store.list_size() == len(expected), f"version {version}: count"
        for tag, status in expected.items():
            found = store.list_entry(tag)
            assert found is not None and found.status == status, (version, tag, found)
        for other in (version - 1, version + 1):  # tags only a neighbour version has
            for tag in set(expected_state(max(other, 0))) - set(expected):
                assert store.list_entry(tag) is None, (version, tag)
        rows = dict(sqlite3.connect(db).execute("SELECT id_tag, status FROM auth_list"))
        assert {t: STATUSES[s] for t, s in rows.items()} == expected
        store.wait_idle()
    finally:
        store.close()
    return version


PHASES = [("shadow-created", 1), ("shadow-chunk", 2), ("index-written", 1),
          ("swap-before-commit", 1), ("swap-committed", 1), ("differential-before-commit", 1),
          ("differential-committed", 1), ("compact-index-written", 1), ("compact-committed", 1),
          ("swap-before-commit", 2), ("shadow-chunk", 5)]


def test_sigkill_at_every_step_boundary_leaves_old_or_new(tmp_path):
    db = tmp_path / "borne.db"
    versions = []
    for phase, occurrence in PHASES:
        child = spawn(db, phase, str(occurrence))
        _, err = child.communicate(timeout=30)
        assert child.returncode == -9, f"{phase}: child ended with {child.returncode}: {err}"
        versions.append(check_consistent(db))
    assert versions == sorted(versions) and versions[-1] > 2  # progress was made


def test_sigkill_at_random_moments_leaves_old_or_new(tmp_path):
    db = tmp_path / "borne.db"
    rng = random.Random(20260101)
    for _ in range(8):
        child = spawn(db)
        assert child.stdout.readline().strip() == "ready"
        try:
            child.wait(timeout=rng.uniform(0.0, 0.4))
        except subprocess.TimeoutExpired:
            child.kill()
        child.communicate(timeout=30)
        assert child.returncode == -9, child.stderr
        check_consistent(db)


@pytest.mark.parametrize("phase", ["swap-before-commit", "swap-committed"])
def test_restart_after_crash_can_apply_again(tmp_path, phase):
    db = tmp_path / "borne.db"
    child = spawn(db, phase, "1")
    child.communicate(timeout=30)
    version = check_consistent(db)
    store = AuthorizationStore(db, keys=AuthKeys())
    try:
        payload = {"listVersion": version + 10, "updateType": "Full",
                   "localAuthorizationList": [
                       {"idTag": "NEW", "idTagInfo": {"status": "Accepted"}}]}
        assert store.apply_send_local_list_sync(payload) == "Accepted"
        assert store.list_size() == 1 and store.list_entry("NEW") is not None
    finally:
        store.close()
