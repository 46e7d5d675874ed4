"""The corpus of malformed and hostile logs, and what the product must decide for each.

Every face of the product (CLI, dashboard, API) must make the same decision on each file:
``accept`` it (the load report's warnings say what was odd) or ``refuse`` it with a
:class:`~fakeusers.errors.FakeusersError` whose message names the file and the fix. The files
are in ``tests/data/bad/``, written by ``tests/data/make_bad_corpus.py``; the table in
``docs/bad-inputs.md`` lists the same cases.

Use it from any test::

    from tests.bad_corpus import CASES

    @pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
    def test_upload(case):
        ...  # upload case.path.read_bytes() as case.name
        if case.decision == "refuse":
            case.check_refusal(message_shown)
        else:
            case.check_warnings(report_warnings)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["BAD_DIR", "CASES", "FACE_CASES", "BadCase"]

BAD_DIR = Path(__file__).resolve().parent / "data" / "bad"


@dataclass(frozen=True)
class BadCase:
    """One file of the corpus and the decision the product must make on it.

    Attributes
    ----------
    path : Path
        The file, in ``tests/data/bad/``.
    decision : {"accept", "refuse"}
        What every face of the product does with it.
    description : str
        What the file is, as an analyst would meet it.
    message_contains : tuple of str
        For a refusal: substrings of the error message (besides the file name, always
        checked).
    warning_contains : tuple of str
        For an acceptance: one substring per expected warning. Every substring must be in
        some warning and every warning must contain one of them, so an unexpected warning
        fails too; empty means the report has no warnings at all.
    rows, users : int or None
        For an acceptance: rows and users read (after dropping unusable rows).
    user_ids : tuple of str or None
        For an acceptance, when the IDs themselves are the point: the exact user IDs in order
        of first appearance, as the CLI's machine-readable output must write them.
    timestamps, labelled : bool or None
        For an acceptance: whether the log has usable timestamps, and labels.
    """

    path: Path
    decision: Literal["accept", "refuse"]
    description: str
    message_contains: tuple[str, ...] = ()
    warning_contains: tuple[str, ...] = ()
    rows: int | None = None
    users: int | None = None
    user_ids: tuple[str, ...] | None = None
    timestamps: bool | None = None
    labelled: bool | None = None

    @property
    def name(self) -> str:
        return self.path.name

    def check_refusal(self, message: str) -> None:
        """Assert ``message`` is this case's refusal: one line, the file, the words, short."""
        assert self.decision == "refuse", f"{self.name} must be accepted, got: {message}"
        missing = [s for s in (self.name, *self.message_contains) if s not in message]
        assert not missing, f"{self.name}: message lacks {missing}: {message}"
        assert "\n" not in message and len(message) < 600, f"{self.name}: {message!r}"

    def check_warnings(self, warnings: Sequence[str]) -> None:
        """Assert the load report's warnings are exactly the expected kinds."""
        assert self.decision == "accept", f"{self.name} must be refused"
        missing = [s for s in self.warning_contains if not any(s in w for w in warnings)]
        unexpected = [w for w in warnings if not any(s in w for s in self.warning_contains)]
        assert not missing, f"{self.name}: no warning contains {missing}; got {list(warnings)}"
        assert not unexpected, f"{self.name}: unexpected warnings {unexpected}"
        for w in warnings:
            assert "\n" not in w and len(w) < 600, f"{self.name}: warning too long: {w!r}"


def _accept(name: str, description: str, *warnings: str, **expected) -> BadCase:
    return BadCase(BAD_DIR / name, "accept", description, warning_contains=warnings, **expected)


def _refuse(name: str, description: str, *words: str) -> BadCase:
    return BadCase(BAD_DIR / name, "refuse", description, message_contains=words)


CASES: list[BadCase] = [
    # Refused: nothing usable in the file, or not a CSV log at all.
    _refuse("empty.csv", "an empty file (0 bytes)", "is empty", "header line"),
    _refuse("header_only.csv", "the header and no rows", "header but no rows"),
    _refuse(
        "header_only_no_newline.csv",
        "the header without even a line end",
        "header but no rows",
    ),
    _refuse(
        "missing_column.csv",
        "no Category column",
        "has no column 'Category'",
        "found: UserId, Event, Fake",
        "Each row needs UserId, Event and Category",
    ),
    _refuse(
        "renamed_header.csv",
        "'User ID' instead of 'UserId'",
        "has no column 'UserId'",
        "found: User ID, Event, Category",
    ),
    _refuse(
        "duplicate_columns.csv",
        "two columns that both mean Event (Event, event)",
        "two columns named 'Event'",
        "columns 2 and 4",
        "Keep one",
    ),
    _refuse(
        "no_header.csv",
        "data rows without a header line",
        "looks like data, not a header",
        "add the line UserId,Event,Category",
    ),
    _refuse(
        "non_binary_labels.csv",
        "Fake is 2 and -1 on some rows",
        "line 4",
        "Fake is '2'",
        "0 (real user) or 1 (fake user)",
        "2 rows differ",
        "remove the Fake column",
    ),
    _refuse(
        "partly_empty_labels.csv",
        "Fake empty on some rows only",
        "line 3",
        "Fake is empty",
        "0 (real user) or 1 (fake user)",
    ),
    _refuse(
        "all_rows_dropped.csv",
        "every row lacks a UserId, Event or Category",
        "no usable rows left",
        "empty UserId: 1",
        "empty Category: 1",
    ),
    _refuse(
        "unclosed_quote_to_end.csv",
        'a quote (") opened on line 2 and never closed: it swallows the whole file',
        "line 2",
        "never closed",
        "2 lines",
        "stray quote",
    ),
    _refuse(
        "html_login_page.csv",
        "an HTML sign-in page saved from an expired export link",
        "has no columns",
        "web page (HTML)",
        "download the export again",
    ),
    _refuse(
        "binary_garbage.csv",
        "4 KB of random bytes",
        "is not a CSV file: it is not text",
        "Export the log as CSV",
    ),
    _refuse(
        "spreadsheet.csv",
        "a real .xlsx workbook renamed .csv",
        "is an Excel workbook (.xlsx), not a CSV file",
        "in Excel choose File > Save As > CSV UTF-8, then upload that file",
    ),
    _refuse(
        "zipped_log.csv",
        "a zip archive holding logs.csv, renamed .csv",
        "is a zip archive holding logs.csv",
        "unzip it and upload the CSV file itself",
    ),
    _refuse(
        "old_excel.csv",
        "an old Excel .xls header renamed .csv",
        "is an old Excel workbook (.xls), not a CSV file",
        "File > Save As > CSV UTF-8",
    ),
    _refuse(
        "utf16_unicode_text.csv",
        "Excel's 'Unicode Text' export: UTF-16 with a BOM, tabs",
        "was saved as Excel's 'Unicode Text'",
        "File > Save As > CSV UTF-8",
    ),
    _refuse(
        "damaged.csv.gz",
        "a gzip file cut off after 30 bytes",
        "damaged gzip",
        "Compress it again",
    ),
    _refuse(
        "corrupt.csv.gz",
        "a gzip file with one byte of its compressed data flipped",
        "damaged gzip",
        "Compress it again",
    ),
    _refuse(
        "cut_off.parquet",
        "a Parquet file copied half-way (its footer missing)",
        "cannot be read as Parquet",
        "Write or copy it again",
    ),
    # Accepted as is: formatting that spreadsheets and exporters add.
    _accept("utf8_bom.csv", "UTF-8 with a byte order mark", rows=6, users=4, labelled=True),
    _accept("crlf.csv", "Windows line ends (CRLF)", rows=6, users=4, labelled=True),
    _accept("cr_only.csv", "old Mac line ends (CR only)", rows=6, users=4, labelled=True),
    _accept(
        "lowercase_headers.csv",
        "headers userid,event,category,fake",
        rows=6,
        users=4,
        labelled=True,
    ),
    _accept(
        "padded_values.csv",
        "spaces and tabs around headers and values",
        rows=6,
        users=4,
        user_ids=("u1", "u2", "u3", "u4"),
        labelled=True,
    ),
    _accept("quoted_everything.csv", "every field in quotes", rows=6, users=4, labelled=True),
    _accept(
        "quoted_newlines.csv",
        "quoted IDs holding a line break and a comma",
        rows=3,
        users=3,
        user_ids=("first\nsecond", "u2", "a,b"),
    ),
    _accept("gzip.csv.gz", "a gzip-compressed log", rows=6, users=4, labelled=True),
    _accept(
        "typed.parquet",
        "Parquet with typed columns: int64 IDs, dictionary strings, boolean Fake, timestamps",
        rows=3,
        users=2,
        user_ids=("63700000", "12"),
        timestamps=True,
        labelled=True,
    ),
    _accept(
        "big_field.csv.gz",
        "a 5 MB user ID (gzip-compressed so the committed file is 5 KB)",
        rows=2,
        users=2,
    ),
    _accept(
        "formula_ids.csv",
        "IDs that a spreadsheet would run: =HYPERLINK(...), +cmd, @SUM(1), -2+3, a leading "
        "tab, a DDE payload",
        rows=6,
        users=6,
        # Kept exactly, except that surrounding whitespace (the tab) is padding, as everywhere.
        user_ids=(
            '=HYPERLINK("http://x","y")',
            "+cmd",
            "@SUM(1)",
            "-2+3",
            "=1+2",
            "=cmd|' /C calc'!A0",
        ),
    ),
    # Accepted, with what was odd in the load report.
    _accept(
        "latin1.csv",
        "Latin-1 bytes (José, François)",
        "read it as Latin-1",
        user_ids=("José", "François"),
    ),
    _accept(
        "excel_european.csv",
        "Excel 'CSV (semicolon)': Windows-1252, semicolons, CRLF",
        "semicolons as the delimiter",
        "read it as Latin-1",
        user_ids=("José", "Zoë"),
        labelled=True,
    ),
    _accept("semicolon.csv", "semicolon-delimited", "semicolons as the delimiter", rows=6),
    _accept("tab_delimited.csv", "tab-delimited", "tabs as the delimiter", rows=6),
    _accept(
        "mangled_ids.csv",
        "IDs a spreadsheet turned into numbers (6.37E+07, 1E+15) beside hexadecimal IDs "
        "(1E38095673, 9E12) that are not warned about",
        "3 user IDs look like spreadsheet scientific notation (e.g. 6.37E+07, 1.23457E+11, 1E+15)",
        user_ids=("6.37E+07", "1.23457E+11", "63700000", "1E38095673", "9E12", "1E+15"),
    ),
    _accept(
        "mangled_ids_european.csv",
        "Excel in a European locale: 6,37E+07 (decimal comma), semicolons, beside a hexadecimal ID",
        "semicolons as the delimiter",
        "1 user ID looks like spreadsheet scientific notation (e.g. 6,37E+07)",
        user_ids=("6,37E+07", "1E38095673"),
    ),
    _accept(
        "empty_fields.csv",
        "rows with an empty UserId, Event or Category",
        "1 row dropped: empty UserId",
        "1 row dropped: empty Event",
        "1 row dropped: empty Category",
        rows=2,
        users=2,
    ),
    _accept(
        "conflicting_labels.csv",
        "a user with Fake=1 on one row and Fake=0 on another (scoring works, training refuses)",
        "both Fake=0 and Fake=1 rows (e.g. u1)",
        rows=3,
        users=2,
        labelled=True,
    ),
    _accept(
        "empty_label_column.csv",
        "a Fake column left empty on every row (an export template)",
        "Fake column is empty on every row",
        rows=2,
        labelled=False,
    ),
    _accept(
        "repeated_headers.csv",
        "header lines repeated mid-file (concatenated exports), with timestamps",
        "2 rows dropped: repeated header line",
        rows=5,
        users=4,
        timestamps=True,
    ),
    _accept(
        "extra_columns.csv",
        "Country and Device columns besides the log's",
        "extra columns ignored: Country, Device",
        rows=2,
    ),
    _accept(
        "trailing_delimiter.csv",
        "a comma at the end of every line",
        "extra columns ignored: (unnamed column 4)",
        rows=2,
    ),
    _accept(
        "unknown_values.csv",
        "an event and a category the models have never seen",
        "Unknown events share_link",
        "Unknown categories Pets",
        rows=3,
    ),
    _accept(
        "ragged_rows.csv",
        "rows with too few and too many fields",
        "wrong number of fields (expected 3) at lines 3, 5",
        "2 rows dropped: wrong number of fields",
        rows=3,
        user_ids=("u1", "u3", "u5"),
    ),
    _accept(
        "unclosed_quote_mid.csv",
        'a quote (") opened on line 22 and never closed: the 11 lines after it are lost',
        "wrong number of fields (expected 3) at line 22",
        "line 22: a quoted value starts there and is never closed, so 11 lines",
        "1 row dropped: wrong number of fields",
        rows=20,
    ),
    _accept(
        "timestamps_spreadsheet_format.csv",
        "timestamps as a spreadsheet shows them (24/11/2026 10:00)",
        "Timestamp ignored: timestamps_spreadsheet_format.csv line 2: '24/11/2026 10:00'",
        rows=2,
        timestamps=False,
    ),
    _accept(
        "timestamps_mixed_formats.csv",
        "ISO 8601 timestamps, then epoch seconds",
        "line 4: '1795514402' is epoch seconds but the first value is ISO 8601",
        rows=3,
        timestamps=False,
    ),
    _accept(
        "timestamps_epoch_ms.csv",
        "epoch milliseconds where seconds are expected",
        "epoch milliseconds, not seconds",
        rows=3,
        timestamps=True,
    ),
]

# The library reads every case (tests/test_bad_corpus.py). Each face (CLI, API, dashboard) only
# turns the library's outcome into its own form, so a handful of representative cases shows
# it does: refusals of several kinds, warnings, and IDs that must come out exactly as read.
_FACE_NAMES = (
    "binary_garbage.csv",  # refused: not a text file
    "missing_column.csv",  # refused: names the column and the fix
    "corrupt.csv.gz",  # refused: a broken gzip
    "cut_off.parquet",  # refused: a Parquet file cut off
    "typed.parquet",  # accepted: typed columns read as the CSV would have them
    "formula_ids.csv",  # accepted: IDs a spreadsheet would run, written exactly as read
    "latin1.csv",  # accepted with a warning
    "repeated_headers.csv",  # accepted: concatenated exports
    "big_field.csv.gz",  # accepted: a 5 MB user ID
)
FACE_CASES: list[BadCase] = [case for case in CASES if case.name in _FACE_NAMES]
assert len(FACE_CASES) == len(_FACE_NAMES)
