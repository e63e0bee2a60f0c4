"""doctor.dotenv reads .env files as Laravel's phpdotenv 5 does; malformed lines are reported, not fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from doctor.dotenv import DotenvReadError, load, parse


def test_plain_quoted_export_and_comments() -> None:
    env = parse(
        "# a comment\n"
        "\n"
        "APP_NAME=propertyfeedtemplate\n"
        "export DB_HOST=db.example.internal\n"
        "  SPACED  =  value  \n"
        "SINGLE='literal ${APP_NAME} \\n'\n"
        "ADJACENT='a''b'\n"
        'DOUBLE="a b # not a comment"\n'
        "UNQ=abc#comment\n"
        "UNQ2=abc # comment\n"
        'QUOTED_COMMENT="x" # trailing\n'
        "EMPTY=\n"
        'EMPTY_QUOTED=""\n'
        '"QNAME"=q\n'
        "DOTTED.NAME=d\n"
    )
    assert [(e.line, e.key) for e in env.errors] == [(7, "ADJACENT")]  # text after a closing quote
    v = env.values
    assert v["APP_NAME"] == "propertyfeedtemplate"
    assert v["DB_HOST"] == "db.example.internal"
    assert v["SPACED"] == "value"
    assert v["SINGLE"] == "literal ${APP_NAME} \\n"
    assert v["DOUBLE"] == "a b # not a comment"
    assert v["UNQ"] == "abc"
    assert v["UNQ2"] == "abc"
    assert v["QUOTED_COMMENT"] == "x"
    assert v["EMPTY"] == ""
    assert v["EMPTY_QUOTED"] == ""
    assert v["QNAME"] == "q"
    assert v["DOTTED.NAME"] == "d"
    assert env.line_of("DB_HOST") == 4


def test_escapes_in_double_quotes() -> None:
    env = parse('A="line1\\nline2"\nB="tab\\there"\nC="quote \\" backslash \\\\ dollar \\${X}"\n')
    assert env.errors == []
    assert env.values["A"] == "line1\nline2"
    assert env.values["B"] == "tab\there"
    assert env.values["C"] == 'quote " backslash \\ dollar ${X}'


def test_interpolation_uses_earlier_values_only_braced_and_not_single_quoted() -> None:
    env = parse(
        "APP_NAME=ame\n"
        "A=${APP_NAME}_x\n"
        'B="pre-${APP_NAME}-${LATER}"\n'
        "C='${APP_NAME}'\n"
        "D=$APP_NAME\n"
        "LATER=late\n"
        "E=${LATER}${APP_NAME}\n"
    )
    assert env.values["A"] == "ame_x"
    assert env.values["B"] == "pre-ame-${LATER}"  # defined later: left as written
    assert env.values["C"] == "${APP_NAME}"
    assert env.values["D"] == "$APP_NAME"
    assert env.values["E"] == "lateame"


def test_environ_wins_and_first_definition_wins() -> None:
    env = parse("X=file\nY=one\nY=two\nZ=${X}\n", environ={"X": "process"})
    assert "X" not in env.values  # the process environment already holds it (immutable repository)
    assert env.values["Y"] == "one"
    assert env.values["Z"] == "process"
    assert ("Y", 3) in env.duplicates


def test_multiline_double_quoted_value_keeps_line_numbers() -> None:
    env = parse('A=1\nCERT="-----BEGIN-----\nabc\n-----END-----"\nB=2\n')
    assert env.errors == []
    assert env.values["CERT"] == "-----BEGIN-----\nabc\n-----END-----"
    assert env.line_of("CERT") == 2
    assert env.line_of("B") == 5


def test_malformed_lines_reported_with_line_numbers_not_fatal() -> None:
    env = parse(
        "GOOD=1\n"
        "DB_PASSWORD=hunter2 with spaces\n"   # 2: unexpected whitespace
        "BAD NAME=x\n"                        # 3: invalid name
        "=novalue\n"                          # 4: unexpected equals
        'ESC="bad \\q escape"\n'              # 5: unexpected escape
        "UNCLOSED='abc\n"                     # 6: missing closing quote (single quotes are not multiline)
        "AFTER=ok\n"
        'TRAIL="x"y\n'                        # 8: unexpected whitespace (text after the closing quote)
    )
    by_line = {e.line: e for e in env.errors}
    assert sorted(by_line) == [2, 3, 4, 5, 6, 8]
    assert "whitespace" in by_line[2].reason and by_line[2].key == "DB_PASSWORD"
    assert "invalid name" in by_line[3].reason
    assert "equals" in by_line[4].reason
    assert "escape" in by_line[5].reason
    assert "closing quote" in by_line[6].reason
    assert env.values == {"GOOD": "1", "AFTER": "ok"}
    assert all("hunter2" not in e.reason for e in env.errors)  # reasons never echo values


def test_unterminated_multiline_is_an_error_at_its_start_line() -> None:
    env = parse('A=1\nB="never closed\nC=3\n')
    assert [(e.line, e.key) for e in env.errors] == [(2, "B")]
    assert env.values == {"A": "1"}  # phpdotenv swallows the rest of the file into B, then drops it


def test_name_without_equals_sets_nothing_and_crlf_and_bom() -> None:
    env = parse("\ufeffA=1\r\nJUSTNAME\r\nB=2\r\n")
    assert env.errors == []
    assert env.values == {"A": "1", "B": "2"}


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(DotenvReadError, match="no such file"):
        load(tmp_path / "missing.env")
    with pytest.raises(DotenvReadError, match="directory"):
        load(tmp_path)
    p = tmp_path / "bin.env"
    p.write_bytes(b"A=\xff\xfe\n")
    with pytest.raises(DotenvReadError, match="UTF-8"):
        load(p)
    ok = tmp_path / "ok.env"
    ok.write_text("A=1\n")
    assert load(ok).values == {"A": "1"} and load(ok).path == str(ok)


# --- ${VAR} expansion is bounded (phpdotenv would expand ${L}${L} chains until PHP runs out of memory) --
def test_nested_expansion_beyond_the_value_bound_is_refused_naming_the_line() -> None:
    from doctor.dotenv import MAX_VALUE_CHARS, DotenvLimitError

    lines = ["L0=0123456789abcdef", *(f"L{i}=${{L{i - 1}}}${{L{i - 1}}}" for i in range(1, 25))]
    with pytest.raises(DotenvLimitError, match=rf"line 14: L13: \$\{{\.\.\.\}} expansion refused: a value "
                                                rf"expanding beyond {MAX_VALUE_CHARS} characters"):
        parse("\n".join(lines))  # 24 levels: 268 M characters before the bound


def test_too_many_nested_references_are_refused() -> None:
    from doctor.dotenv import MAX_DEPTH, DotenvLimitError

    chain = ["D0=x", *(f"D{i}=${{D{i - 1}}}" for i in range(1, MAX_DEPTH + 1))]
    assert parse("\n".join(chain)).values[f"D{MAX_DEPTH}"] == "x"  # MAX_DEPTH levels are fine
    with pytest.raises(DotenvLimitError, match=f"line {MAX_DEPTH + 2}: D{MAX_DEPTH + 1}: .*more than {MAX_DEPTH} "
                                               "nested references"):
        parse("\n".join([*chain, f"D{MAX_DEPTH + 1}=${{D{MAX_DEPTH}}}"]))


def test_the_whole_file_expansion_is_bounded() -> None:
    from doctor.dotenv import MAX_TOTAL_CHARS, MAX_VALUE_CHARS, DotenvLimitError

    big = "B=" + "x" * (MAX_VALUE_CHARS - 10)
    copies = [f"C{i}=${{B}}" for i in range(MAX_TOTAL_CHARS // MAX_VALUE_CHARS + 1)]  # each within the value bound
    with pytest.raises(DotenvLimitError, match="expand beyond .* characters in all"):
        parse("\n".join([big, *copies]))


def test_many_references_in_one_value_expand_in_one_pass() -> None:
    env = parse("A=ab\nB=" + "${A}-" * 5000 + "\n")
    assert env.values["B"] == "ab-" * 5000


def test_load_names_the_file_of_a_refused_expansion(tmp_path: Path) -> None:
    p = tmp_path / "prod.env"
    p.write_text("\n".join(["L0=0123456789abcdef", *(f"L{i}=${{L{i - 1}}}${{L{i - 1}}}" for i in range(1, 16))]))
    with pytest.raises(DotenvReadError, match=rf"^{p}: line 14: L13: "):
        load(p)


def test_a_file_beyond_the_size_bound_is_refused(tmp_path: Path) -> None:
    from doctor.dotenv import MAX_FILE_BYTES

    p = tmp_path / "huge.env"
    p.write_text("A=" + "x" * MAX_FILE_BYTES)
    with pytest.raises(DotenvReadError, match="too large"):
        load(p)
