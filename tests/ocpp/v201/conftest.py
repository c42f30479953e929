"""The station rig (``station_rig.Rig``) for the 2.0.1 dispatcher tests, closed after each."""

import pytest

from .station_rig import Rig


@pytest.fixture
def rig(tmp_path):
    built = Rig(tmp_path / "borne.db")
    yield built
    built.close()


@pytest.fixture
def open_rig(tmp_path):
    rigs = []

    def _open(**kwargs):
        built = Rig(tmp_path / f"borne-{len(rigs)}.db", **kwargs)
        rigs.append(built)
        return built

    yield _open
    for built in rigs:
        built.close()
