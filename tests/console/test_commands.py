"""Console protocol: every reply ends in OK or ERROR: reason; bad lines never crash."""

import pytest

from firmware.console.console import Console, ConsoleError


@pytest.fixture
def console():
    c = Console()

    async def echo(args):
        return [" ".join(args)]

    async def fails(args):
        raise ConsoleError("nope")

    async def crashes(args):
        raise RuntimeError("bug")

    c.register("say TEXT", "echo", echo)
    c.register("sim plug N", "plug", echo)
    c.register("bad", "fails", fails)
    c.register("boom", "crashes", crashes)
    return c


@pytest.mark.parametrize("line, reply", [
    ("say hello world", ["hello world", "OK"]),
    ("SAY loud", ["loud", "OK"]),
    ("sim plug 1", ["1", "OK"]),
    ("bad", ["ERROR: nope"]),
    ("unknown thing", ["ERROR: unknown command 'unknown'; type help"]),
    ('say "unterminated', ["ERROR: cannot parse line: No closing quotation"]),
    ("", []),
])
async def test_replies(console, line, reply):
    assert await console.execute(line) == reply


async def test_a_crashing_command_answers_error_and_the_console_lives(console):
    reply = await console.execute("boom")
    assert reply[-1].startswith("ERROR: internal error: RuntimeError")
    assert await console.execute("say still here") == ["still here", "OK"]
