"""`[[payment]]` in a board config: validated like every device table, built, opened and
closed with the board; the simulated twin lands in the SimWorld."""

from __future__ import annotations

import pytest

from firmware import board as board_mod
from firmware.errors import ConfigError
from hal.interfaces import PaymentTerminal

CONNECTOR = ('[board]\nname = "x"\n'
             '[[connector]]\nid = 1\nmax_current_a = 16.0\n'
             '[connector.pilot]\ndriver = "sim"\n[connector.contactor]\ndriver = "sim"\n'
             '[connector.meter]\ndriver = "sim"\n')


def load(tmp_path, text: str):
    path = tmp_path / "board.toml"
    path.write_text(text)
    return board_mod.load_board_config(path)


def problems(tmp_path, text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text)
    return [(p.key, p.message) for p in err.value.problems]


async def test_simulated_terminal_is_built_opened_and_reachable_from_the_world(tmp_path):
    config = load(tmp_path, CONNECTOR + '[[payment]]\nname = "pt"\ndriver = "sim"\n'
                                        'connectors = [1]\n')
    board = board_mod.build_board(config)
    (values, terminal), = board.payments
    assert values == {"name": "pt", "driver": "sim", "connectors": [1]}
    assert isinstance(terminal, PaymentTerminal) and terminal in board.all_devices()
    assert board.sim.payment_terminals["pt"] is terminal
    await board_mod.open_devices(board)
    assert (await terminal.pre_authorise(500)).receipt_number == 1
    await board_mod.close_devices(board)


def test_zvt_tcp_terminal_builds_with_its_options(tmp_path):
    text = CONNECTOR.replace('name = "x"', 'name = "x"\nmixed_sim = true') + (
        '[[payment]]\nname = "pt"\ndriver = "zvt_tcp"\nhost = "192.0.2.7"\ntcp_port = 22000\n'
        'password = 123456\ncapture_method = "book_total"\nt4_s = 120.0\n')
    board = board_mod.build_board(load(tmp_path, text))
    (_, terminal), = board.payments
    info = terminal.info()
    assert (info.role, info.backend, info.port) == ("payment", "zvt_tcp", "tcp://192.0.2.7:22000")
    assert terminal.timeouts.t4_s == 120.0 and terminal.capture_method == "book_total"
    assert "123456" not in repr(info)             # the password is never shown


def test_zvt_serial_defaults_are_9600_8n2(tmp_path):
    text = CONNECTOR.replace('name = "x"', 'name = "x"\nmixed_sim = true') + (
        '[[payment]]\nname = "pt"\ndriver = "zvt"\nport = "/dev/ttyUSB3"\n')
    (_, terminal), = board_mod.build_board(load(tmp_path, text)).payments
    assert terminal.info().port == "/dev/ttyUSB3 9600 8N2"


def test_payment_table_problems_are_all_reported(tmp_path):
    text = CONNECTOR + (
        '[[payment]]\nname = "pt"\ndriver = "zvt_tcp"\nhost = "a b"\npassword = 1234567\n'
        'colour = "red"\nconnectors = [2]\n'
        '[[payment]]\nname = "pt"\ndriver = "sim"\n'
        '[[payment]]\nname = "other"\ndriver = "ingenico"\n')
    found = problems(tmp_path, text)
    assert ("payment pt.connectors", "no connector 2 on this board (connectors: 1)") in found
    assert ("payment pt.name", "duplicate payment terminal name 'pt'") in found
    assert ("payment pt.colour", "unknown key") in found
    keys = [k for k, _ in found]
    assert "payment pt.host" in keys and "payment pt.password" in keys
    assert any(k == "payment other.driver" and "zvt, zvt_tcp" in m for k, m in found)


def test_a_serial_terminal_on_the_meters_port_is_a_problem(tmp_path):
    text = ('[board]\nname = "x"\nmixed_sim = true\n'
            '[[connector]]\nid = 1\nmax_current_a = 16.0\n'
            '[connector.pilot]\ndriver = "sim"\n[connector.contactor]\ndriver = "sim"\n'
            '[connector.meter]\ndriver = "sdm630"\nport = "/dev/ttyUSB0"\n'
            '[[payment]]\nname = "pt"\ndriver = "zvt"\nport = "/dev/ttyUSB0"\n')
    found = problems(tmp_path, text)
    assert found and found[0][0] == "payment pt.port"


def test_payment_must_be_an_array_of_tables(tmp_path):
    found = problems(tmp_path, CONNECTOR + '[payment]\nname = "pt"\n')
    assert found == [("payment", "must be an array of tables [[payment]]")]
