"""Write the corpus of malformed and hostile logs to ``tests/data/bad/``.

Each file is what some real export, spreadsheet or attacker produces; ``tests/bad_corpus.py``
says what the product must do with it. The output is deterministic (fixed seeds, gzip and zip
timestamps pinned), so running this again changes no committed byte::

    python tests/data/make_bad_corpus.py
"""

from __future__ import annotations

import gzip
import io
import random
import zipfile
from pathlib import Path

__all__ = ["BAD_DIR", "build", "main"]

BAD_DIR = Path(__file__).resolve().parent / "bad"

HEADER = "UserId,Event,Category,Fake\n"
ROWS = (
    "u1,click_ad,Phone,1\n"
    "u2,send_sms,Motor,0\n"
    "u1,send_email,Jobs,1\n"
    "u3,phone_call,Leisure,0\n"
    "u2,click_carrousel,Holidays,0\n"
    "u4,click_ad,Real_State,0\n"
)
CLEAN = HEADER + ROWS
UNLABELLED = "UserId,Event,Category\nu1,click_ad,Phone\nu2,send_sms,Motor\nu1,send_email,Jobs\n"


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _flip(data: bytes, at: int) -> bytes:
    """``data`` with one byte inverted, as a bad disk or download leaves it."""
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def _parquet() -> bytes:
    """A small log typed as a data lake keeps it: int64 IDs, dictionary strings, a boolean
    Fake, UTC timestamps. The bytes are pyarrow's (pinned in requirements.txt)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "UserId": pa.array([63700000, 12, 63700000], pa.int64()),
            "Event": pa.array(["click_ad", "send_sms", "send_email"]).dictionary_encode(),
            "Category": pa.array(["Phone", "Motor", "Jobs"]).dictionary_encode(),
            "Fake": pa.array([True, False, True]),
            "Timestamp": pa.array(
                [1795514400000, 1795514401500, 1795514403250], pa.timestamp("ms", tz="UTC")
            ),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


def _xlsx() -> bytes:
    """A minimal but real .xlsx workbook (what Excel saves), holding a small log."""
    cells = [
        ("UserId", "Event", "Category"),
        ("u1", "click_ad", "Phone"),
        ("u2", "send_sms", "Motor"),
    ]
    rows = "".join(
        f'<row r="{r}">'
        + "".join(
            f'<c r="{col}{r}" t="inlineStr"><is><t>{v}</t></is></c>'
            for col, v in zip("ABC", values, strict=True)
        )
        + "</row>"
        for r, values in enumerate(cells, start=1)
    )
    ns = "http://schemas.openxmlformats.org"
    parts = {
        "[Content_Types].xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{ns}/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
            'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}/package/2006/'
            f'relationships"><Relationship Id="rId1" Type="{ns}/officeDocument/2006/'
            'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{ns}/spreadsheetml/2006/'
            f'main" xmlns:r="{ns}/officeDocument/2006/relationships"><sheets><sheet name="logs" '
            'sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}/package/2006/'
            f'relationships"><Relationship Id="rId1" Type="{ns}/officeDocument/2006/'
            'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{ns}/spreadsheetml/2006/'
            f'main"><sheetData>{rows}</sheetData></worksheet>'
        ),
    }
    return _zip(parts)


def _zip(parts: dict[str, str]) -> bytes:
    """A zip archive of the given files, with pinned timestamps."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), text)
    return buf.getvalue()


def _rows(n: int, start: int = 0) -> str:
    events = ("click_ad", "send_sms", "phone_call", "send_email", "click_carrousel")
    categories = ("Phone", "Motor", "Jobs", "Leisure", "Holidays", "Real_State")
    return "".join(
        f"u{i},{events[i % len(events)]},{categories[i % len(categories)]}\n"
        for i in range(start, start + n)
    )


def build() -> dict[str, bytes]:
    """The corpus, file name -> bytes."""
    text: dict[str, str] = {
        # Refused: nothing usable, or not a CSV log at all.
        "empty.csv": "",
        "header_only.csv": HEADER,
        "header_only_no_newline.csv": HEADER.rstrip("\n"),
        "missing_column.csv": "UserId,Event,Fake\nu1,click_ad,1\nu2,send_sms,0\n",
        "renamed_header.csv": "User ID,Event,Category\nu1,click_ad,Phone\n",
        "duplicate_columns.csv": "UserId,Event,Category,event\nu1,click_ad,Phone,send_sms\n",
        "no_header.csv": ROWS,
        "non_binary_labels.csv": HEADER + "u1,click_ad,Phone,1\nu2,send_sms,Motor,0\n"
        "u3,click_ad,Jobs,2\nu4,click_ad,Jobs,-1\n",
        "partly_empty_labels.csv": HEADER + "u1,click_ad,Phone,1\nu2,send_sms,Motor,\n",
        "all_rows_dropped.csv": "UserId,Event,Category\n,click_ad,Phone\nu2,,Motor\n"
        "u3,send_sms, \n",
        "unclosed_quote_to_end.csv": 'UserId,Event,Category\n"u1,click_ad,Phone\n'
        "u2,send_sms,Motor\n",
        "html_login_page.csv": (
            "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n"
            "<body><form action='/login'>Session expired</form></body></html>\n"
        ),
        # Accepted as is: formatting that spreadsheets and exporters add.
        "crlf.csv": CLEAN.replace("\n", "\r\n"),
        "cr_only.csv": CLEAN.replace("\n", "\r"),
        "lowercase_headers.csv": CLEAN.replace(HEADER, HEADER.lower()),
        "padded_values.csv": " UserId , Event ,Category,  Fake\n"
        + "".join("  " + ",\t".join(f" {v} " for v in r.split(",")) + "\n" for r in ROWS.split()),
        "quoted_everything.csv": "".join(
            ",".join(f'"{v}"' for v in line.split(",")) + "\n" for line in CLEAN.split()
        ),
        "semicolon.csv": CLEAN.replace(",", ";"),
        "tab_delimited.csv": CLEAN.replace(",", "\t"),
        "quoted_newlines.csv": 'UserId,Event,Category\n"first\nsecond",click_ad,Phone\n'
        'u2,send_sms,Motor\n"a,b",click_ad,Jobs\n',
        "conflicting_labels.csv": HEADER + "u1,click_ad,Phone,1\nu1,send_sms,Phone,0\n"
        "u2,click_ad,Motor,0\n",
        "empty_label_column.csv": "UserId,Event,Category,Fake\nu1,click_ad,Phone,\n"
        "u2,send_sms,Motor,\n",
        # Accepted with warnings in the load report.
        # Spreadsheet notation (6.37E+07, 1.23457E+11, 1E+15) beside IDs that merely hold an E
        # between digits (hexadecimal 1E38095673, 9E12): only the first kind is warned about.
        "mangled_ids.csv": "UserId,Event,Category\n6.37E+07,click_ad,Phone\n"
        "1.23457E+11,send_sms,Motor\n63700000,click_ad,Jobs\n1E38095673,click_ad,Phone\n"
        "9E12,send_sms,Motor\n1E+15,phone_call,Leisure\n",
        "empty_fields.csv": "UserId,Event,Category\nu1,click_ad,Phone\n,click_ad,Phone\n"
        "u2,,Motor\nu3,send_sms,\nu4,send_sms,Motor\n",
        "repeated_headers.csv": "UserId,Event,Category,Timestamp\n"
        "u1,click_ad,Phone,2026-11-24T10:00:00Z\nu2,send_sms,Motor,2026-11-24T10:00:01Z\n"
        "UserId,Event,Category,Timestamp\n"
        "u3,click_ad,Jobs,2026-11-24T10:00:02Z\nu1,send_email,Phone,2026-11-24T10:00:03Z\n"
        "USERID,EVENT,CATEGORY,TIMESTAMP\nu4,phone_call,Leisure,2026-11-24T10:00:04Z\n",
        "extra_columns.csv": "Country,UserId,Event,Category,Device\nES,u1,click_ad,Phone,ios\n"
        "FR,u2,send_sms,Motor,android\n",
        "trailing_delimiter.csv": "UserId,Event,Category,\nu1,click_ad,Phone,\n"
        "u2,send_sms,Motor,\n",
        "unknown_values.csv": "UserId,Event,Category\nu1,share_link,Pets\nu1,click_ad,Phone\n"
        "u2,send_sms,Motor\n",
        "formula_ids.csv": "UserId,Event,Category\n"
        '"=HYPERLINK(""http://x"",""y"")",click_ad,Phone\n'
        "+cmd,send_email,Motor\n"
        "@SUM(1),click_ad,Jobs\n"
        "-2+3,phone_call,Leisure\n"
        '"\t=1+2",send_sms,Holidays\n'
        "\"=cmd|' /C calc'!A0\",click_ad,Phone\n",
        "ragged_rows.csv": "UserId,Event,Category\nu1,click_ad,Phone\nu2,click_ad\n"
        "u3,send_sms,Motor\nu4,a,b,c,d\nu5,phone_call,Jobs\n",
        "unclosed_quote_mid.csv": "UserId,Event,Category\n"
        + _rows(20)
        + '"u99,click_ad,Phone\n'
        + _rows(10, start=20),
        "timestamps_spreadsheet_format.csv": "UserId,Event,Category,Timestamp\n"
        "u1,click_ad,Phone,24/11/2026 10:00\nu2,send_sms,Motor,24/11/2026 10:01\n",
        "timestamps_mixed_formats.csv": "UserId,Event,Category,Timestamp\n"
        "u1,click_ad,Phone,2026-11-24T10:00:00Z\nu2,send_sms,Motor,2026-11-24T10:00:01Z\n"
        "u1,click_ad,Jobs,1795514402\n",
        "timestamps_epoch_ms.csv": "UserId,Event,Category,Timestamp\n"
        "u1,click_ad,Phone,1795514400000\nu2,send_sms,Motor,1795514401500\n"
        "u1,click_ad,Jobs,1795514403250\n",
    }
    files = {name: t.encode() for name, t in text.items()}
    files.update(
        {
            "binary_garbage.csv": random.Random(5).randbytes(4096),
            "spreadsheet.csv": _xlsx(),
            "zipped_log.csv": _zip({"logs.csv": CLEAN}),
            "old_excel.csv": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),
            "utf16_unicode_text.csv": ("\ufeff" + CLEAN.replace(",", "\t"))
            .replace("\n", "\r\n")
            .encode("utf-16-le"),
            "damaged.csv.gz": _gzip(CLEAN.encode())[:30],
            "corrupt.csv.gz": _flip(_gzip(CLEAN.encode()), at=12),
            "utf8_bom.csv": b"\xef\xbb\xbf" + CLEAN.encode(),
            "latin1.csv": (
                "UserId,Event,Category\nJosé,click_ad,Phone\nFrançois,send_sms,Motor\n"
            ).encode("latin-1"),
            # Excel's "CSV (semicolon)" in a European locale: Windows-1252, semicolons, CRLF.
            "excel_european.csv": "UserId;Event;Category;Fake\r\nJosé;click_ad;Phone;1\r\n"
            "Zoë;send_sms;Motor;0\r\n".encode("cp1252"),
            # Excel in a European locale: a decimal comma in the notation it writes.
            "mangled_ids_european.csv": "UserId;Event;Category\r\n6,37E+07;click_ad;Phone\r\n"
            "1E38095673;send_sms;Motor\r\n".encode("cp1252"),
            "gzip.csv.gz": _gzip(CLEAN.encode()),
            "typed.parquet": _parquet(),
            # A copy stopped half-way: the footer, which says where everything is, is missing.
            "cut_off.parquet": _parquet()[: len(_parquet()) // 2],
            # One 5 MB user ID; compressed so the committed file stays small.
            "big_field.csv.gz": _gzip(
                b"UserId,Event,Category\n"
                + b"x" * (5 << 20)
                + b",click_ad,Phone\nu2,send_sms,Motor\n"
            ),
        }
    )
    return dict(sorted(files.items()))


def main() -> None:
    """Write the corpus, replacing the files of the same names."""
    BAD_DIR.mkdir(parents=True, exist_ok=True)
    for name, data in build().items():
        (BAD_DIR / name).write_bytes(data)


if __name__ == "__main__":
    main()
