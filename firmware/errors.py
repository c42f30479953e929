"""The firmware layer's error tree (hardware errors are ``hal.errors.HalError``)."""

from __future__ import annotations

from dataclasses import dataclass


class BorneError(Exception):
    """Root of the firmware layer's own failures."""


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.message}"


class ConfigError(BorneError):
    """A configuration cannot be used; ``problems`` lists every problem found."""

    def __init__(self, problems: list[ConfigProblem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class StartupError(BorneError):
    """The agent cannot start (a device will not open, the database is unusable)."""
