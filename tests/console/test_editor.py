"""The sans-I/O line editor, fed the bytes screen/picocom/minicom and dumb terminals send."""

import random

from firmware.console.editor import Cancelled, Editor, Line, LoggedOut, Output, Overflow


def feed(editor, data):
    actions = editor.feed(data)
    out = b"".join(a.data for a in actions if isinstance(a, Output))
    return [a for a in actions if not isinstance(a, Output)], out


def lines(editor, data):
    return [a.text for a in feed(editor, data)[0] if isinstance(a, Line)]


def screen(out: bytes) -> str:
    """What a dumb terminal shows on the current line after ``out`` (CR, BS, text)."""
    row, col = [], 0
    for char in out.decode("utf-8", "replace"):
        if char == "\r":
            col = 0
        elif char == "\n":
            row, col = [], 0
        elif char == "\b":
            col = max(0, col - 1)
        else:
            if col < len(row):
                row[col] = char
            else:
                row.append(char)
            col += 1
    return "".join(row).rstrip()


def test_cr_lf_and_crlf_each_end_one_line():
    editor = Editor()
    assert lines(editor, b"status\rhelp\nversion\r\n") == ["status", "help", "version"]
    assert lines(editor, b"\r\n") == [""]
    assert lines(editor, b"a\r") == ["a"] and lines(editor, b"\nb\r") == ["b"]


def test_backspace_delete_ctrl_u_ctrl_w():
    editor = Editor()
    assert lines(editor, b"stx\x7fa\x08atus\r") == ["status"]
    assert lines(editor, b"garbage\x15status\r") == ["status"]
    assert lines(editor, b"config get Heart\x17\x17version\r") == ["config version"]


def test_ctrl_c_discards_the_line_issue_14():
    """`status garbage` ^C `version` runs `version`, not `status garbageversion`."""
    editor = Editor()
    actions, out = feed(editor, b"status garbage\x03version\r")
    assert [type(a) for a in actions] == [Cancelled, Line]
    assert actions[1].text == "version"
    assert b"^C\r\n" in out


def test_ctrl_d_logs_out_on_an_empty_line_and_deletes_forward_otherwise():
    editor = Editor()
    assert feed(editor, b"\x04")[0] == [LoggedOut()]
    assert lines(editor, b"statusx\x1b[D\x04\r") == ["status"]


def test_arrows_edit_and_never_land_in_the_line():
    editor = Editor()
    assert lines(editor, b"vers\x1b[D\x1b[Cion\r") == ["version"]
    assert lines(editor, b"sttus\x1b[D\x1b[D\x1b[Da\r") == ["status"]
    assert lines(editor, b"ab\x1bOD\x1bOHx\x1b[F\x1b[3~y\r") == ["xaby"]
    assert lines(editor, b"a\x1b[1;5Db\x1b[200~c\r") == ["bca"]  # ctrl-left, bracketed paste
    assert lines(editor, b"q\x1bxr\r") == ["qr"]  # Alt-x is dropped


def test_history_up_down_and_the_draft_is_kept():
    editor = Editor()
    lines(editor, b"status\rversion\r")
    assert lines(editor, b"\x1b[A\x1b[A\r") == ["status"]
    assert lines(editor, b"draft\x1b[A\x1b[B\r") == ["draft"]
    assert lines(editor, b"\x1b[B\x1b[B\r") == [""]


def test_the_screen_shows_exactly_the_line_after_editing():
    editor = Editor()
    editor.prompt = "CP-1 tech> "
    _, out = feed(editor, b"")
    out = editor.show_prompt()
    for chunk in (b"sttus", b"\x1b[D" * 3, b"a", b"\x1b[F", b" 1", b"\x08", b"\x17x"):
        out += feed(editor, chunk)[1]
        assert screen(out) == (editor.prompt + editor.text).rstrip()
    assert b"\x1b" not in out  # nothing a dumb terminal would print as garbage


def test_event_lines_go_above_the_prompt_and_the_typed_line_survives():
    editor = Editor()
    editor.prompt = "> "
    out = editor.show_prompt() + feed(editor, b"config ge")[1]
    out += editor.print_above(["card 04A2 refused: Blocked"])
    assert "card 04A2 refused: Blocked\r\n" in out.decode()
    assert screen(out) == "> config ge"
    assert lines(editor, b"t\r") == ["config get"]


def test_tab_completes_a_unique_word_and_lists_several():
    words = ["status", "sim plug", "sim tap", "config get"]

    def complete(text):
        typed = text.split(" ")
        return [w.split(" ")[len(typed) - 1] for w in words
                if w.startswith(text) and len(w.split(" ")) >= len(typed)]

    editor = Editor(complete)
    assert lines(editor, b"st\t\r") == ["status "]
    _, out = feed(editor, b"sim \t")
    assert b"plug  tap" in out
    assert lines(editor, b"p\t1\r") == ["sim plug 1"]


def test_secret_lines_are_not_echoed_nor_kept():
    editor = Editor()
    editor.secret = True
    actions, out = feed(editor, b"hunter2\r")
    assert actions == [Line("hunter2")] and b"hunter2" not in out
    editor.secret = False
    assert lines(editor, b"\x1b[A\r") == [""]


def test_invalid_utf8_and_split_characters():
    editor = Editor()
    assert lines(editor, b"tap \xff\r") == ["tap \ufffd"]
    assert lines(editor, b"\xc3") == [] and lines(editor, b"\xa9\r") == ["\u00e9"]


def test_an_overlong_line_is_discarded_whole():
    editor = Editor(max_chars=16)
    actions, _ = feed(editor, b"x" * 1000 + b"\rstatus\r")
    assert actions == [Overflow(), Line("status")]


def test_fuzz_random_bytes_never_raise_and_the_screen_matches(seed=14):
    rng = random.Random(seed)
    alphabet = b"ab \x1b[ODCAB~3\x03\x04\x08\x7f\x15\x17\x01\x05\t\r\n\xc3\xa9\xff"
    editor = Editor(lambda text: ["alpha", "abc"])
    editor.prompt = "> "
    out = editor.show_prompt()
    for _ in range(3000):
        chunk = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        actions = editor.feed(chunk)
        for a in actions:
            if isinstance(a, Output):
                out += a.data
            elif not isinstance(a, Output):
                out += editor.show_prompt()  # what the session does after each line
        assert len(editor.text) <= editor.max_chars
        if editor._escape is None:
            assert screen(out[-4000:]).endswith(editor.text.rstrip()) or "\ufffd" in editor.text


def test_without_echo_nothing_is_written_back():
    """stdio: the cooked terminal (or a script on a pipe) shows what was typed itself."""
    editor = Editor(echo=False)
    actions, out = feed(editor, b"status\rx\x03\r")
    assert out == b"" and actions == [Line("status"), Cancelled(), Line("")]
