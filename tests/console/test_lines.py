"""The console's line editor: what serial terminals send becomes exactly the lines typed."""

from firmware.console.lines import LineEditor


def lines(editor, data):
    return [e.line for e in editor.feed(data) if e.line is not None]


def test_cr_lf_and_crlf_each_end_one_line():
    editor = LineEditor()
    assert lines(editor, b"status\rhelp\nversion\r\n") == ["status", "help", "version"]
    assert lines(editor, b"\r\n") == [""]  # an empty line, not two


def test_crlf_split_across_reads_is_one_line():
    editor = LineEditor()
    assert lines(editor, b"status\r") == ["status"]
    assert lines(editor, b"\nhelp\r") == ["help"]


def test_backspace_and_delete_erase_and_echo():
    editor = LineEditor()
    events = editor.feed(b"stx\x7fa\x08atus\r")
    assert [e.line for e in events if e.line is not None] == ["status"]
    echo = b"".join(e.echo for e in events)
    assert b"\b \b" in echo and echo.endswith(b"\r\n")


def test_ctrl_u_clears_the_line_and_control_bytes_are_ignored():
    editor = LineEditor()
    assert lines(editor, b"garbage\x15st\x01a\x1btus\r") == ["status"]


def test_invalid_utf8_does_not_crash():
    assert lines(LineEditor(), b"sim tap \xff\xfe\r") == ["sim tap \ufffd\ufffd"]


def test_an_overlong_line_is_discarded_whole():
    editor = LineEditor(max_chars=16)
    events = editor.feed(b"x" * 1000 + b"\rstatus\r")
    assert [e.overflow for e in events if e.overflow] == [True]
    assert [e.line for e in events if e.line is not None] == ["status"]
