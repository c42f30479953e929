"""House rule: one error tree rooted in ``BorneError``, one branch per layer.

Every exception class the project defines (firmware, hal, drivers, devcsms, bench) derives
from ``BorneError``, so "an error of ours" is one ``except`` and anything else is a bug
(the runtime's crash policy). hal cannot import firmware (test_layering), so the root
lives in ``hal.errors`` and ``firmware.errors`` re-exports it.
"""

import importlib
import inspect
import pkgutil

from firmware import errors
from hal.errors import HalError

PACKAGES = ("firmware", "hal", "drivers", "devcsms", "bench")
# The safety co-processor's firmware runs on MicroPython, where the agent's error tree
# does not exist: its few exceptions stay its own (issue 13).
MICROPYTHON = "firmware.mcu"


def project_exceptions():
    found = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        modules = [root] + [importlib.import_module(info.name)
                            for info in pkgutil.walk_packages(root.__path__, package + ".")]
        for module in modules:
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if module.__name__.startswith(MICROPYTHON):
                    continue
                if issubclass(cls, BaseException) and cls.__module__ == module.__name__:
                    found.append(cls)
    return found


def test_every_project_exception_derives_from_borne_error():
    classes = project_exceptions()
    assert len(classes) > 20  # the walk found the tree
    outside = sorted(f"{c.__module__}.{c.__qualname__}" for c in classes
                     if not issubclass(c, errors.BorneError))
    assert outside == []


def test_one_root_and_a_branch_per_layer():
    assert errors.BorneError.__mro__[1] is Exception
    assert issubclass(HalError, errors.BorneError)
    branches = {errors.CoreError, errors.OcppError, errors.AuthError, errors.StoreError,
                errors.ConfigError, errors.ConsoleError, errors.AgentError, HalError}
    for branch in branches:
        assert branch.__mro__[1] is errors.BorneError, branch


def test_each_layer_raises_its_own_branch():
    from devcsms.errors import DevCsmsError
    from drivers.errors import DriverError
    from firmware.auth.listdb import ListTooLong
    from firmware.auth.schema import AuthSchemaError
    from firmware.console.console import ConsoleError
    from firmware.core.idtag import IdTagError
    from firmware.ocpp.frames import CallErrorReply
    from firmware.ocpp.session import CallErrorReceived, CallTimedOut, LinkClosed
    from firmware.store.db import StoreError

    assert issubclass(DriverError, HalError)
    assert issubclass(IdTagError, errors.CoreError)
    for cls in (CallErrorReply, CallTimedOut, CallErrorReceived, LinkClosed):
        assert issubclass(cls, errors.OcppError), cls
    assert issubclass(ListTooLong, errors.AuthError)
    assert StoreError is errors.StoreError
    assert issubclass(AuthSchemaError, errors.StoreError)  # "cannot start", not a traceback
    assert ConsoleError is errors.ConsoleError
    assert issubclass(errors.StartupError, errors.AgentError)
    assert issubclass(errors.AgentBug, errors.AgentError)
    assert issubclass(DevCsmsError, errors.BorneError)
