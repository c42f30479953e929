"""board_configs/README.md documents every board key firmware/board.py accepts (and
no key it does not), so a charger maker can write a board from the README alone; and
the board loader refuses what the README says is wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drivers import docs, registry
from firmware import board as board_mod
from firmware.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "board_configs" / "README.md"


def hand_written() -> str:
    text = README.read_text("utf-8")
    return text[:text.index(docs.ANCHOR)]


def table_keys(title: str) -> list[str]:
    """The keys in the tables under the ``### {title}`` heading, up to the next heading."""
    part = hand_written()
    start = part.index(f"### {title}\n")
    end = part.find("\n#", start + 4)
    section = part[start:end if end != -1 else None]
    return re.findall(r"^\| (?:\w+ \| )?`(\w+)` \|", section, flags=re.M)


@pytest.mark.parametrize("title, expected", [
    ("`[board]`", [o.name for o in board_mod.BOARD_OPTIONS]),
    ("`[[connector]]`", [o.name for o in board_mod.CONNECTOR_OPTIONS]
     + list(board_mod.CONNECTOR_DEVICES)),
    ("`[[reader]]`", [o.name for o in board_mod.READER_OPTIONS]),
    ("`[[payment]]`", [o.name for o in board_mod.PAYMENT_OPTIONS]),
])
def test_readme_documents_every_board_key(title, expected):
    assert table_keys(title) == expected


def test_readme_documents_every_simulated_driver_key():
    documented = table_keys('Simulated devices (`driver = "sim"`)')
    declared = [o.name for role in registry.ROLES
                if (spec := registry.lookup(role, "sim")) is not None for o in spec.options]
    assert sorted(documented) == sorted(declared)


def test_readme_defaults_match_the_code():
    part = hand_written()
    options = (board_mod.BOARD_OPTIONS + board_mod.CONNECTOR_OPTIONS
               + board_mod.READER_OPTIONS + board_mod.PAYMENT_OPTIONS)
    for option in options:
        row = re.search(rf"^\| `{option.name}` \| (\w+) \| ([^|]+) \|", part, flags=re.M)
        assert row, option.name
        assert row.group(1) == option.kind.__name__, option.name
        default = "required" if option.required else docs._value(option.default)
        assert row.group(2).strip() == default, option.name


def test_readme_lists_every_console_diagnostic():
    part = hand_written()
    for usage in ("hw", "test rfid [SECONDS]", "test meter [N]", "test contactor N"):
        assert f"| `{usage}` |" in part


def test_a_reader_at_a_connector_the_board_does_not_have_is_a_problem(tmp_path):
    path = tmp_path / "board.toml"
    path.write_text('[board]\nname = "x"\n'
                    '[[connector]]\nid = 1\nmax_current_a = 16.0\n'
                    '[connector.pilot]\ndriver = "sim"\n[connector.contactor]\ndriver = "sim"\n'
                    '[connector.meter]\ndriver = "sim"\n'
                    '[[reader]]\nname = "front"\ndriver = "sim"\nconnector = 2\n')
    with pytest.raises(ConfigError) as err:
        board_mod.load_board_config(path)
    assert [(p.key, p.message) for p in err.value.problems] == [
        ("reader front.connector", "no connector 2 on this board (connectors: 1)")]
