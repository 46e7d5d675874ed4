"""Data: upload logs (or load the demo), then read the load report and a preview."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from fakeusers import models, reading
from fakeusers.errors import FakeusersError
from fakeusers.log import LoadReport
from views import _state as state

OVERLAP_CHOICES = {"keep_one": "Keep one copy (recommended)", "keep_all": "Keep both copies"}


def load(
    action: str, sources: Callable[[], Sequence[tuple[str, bytes]]], overlaps: str = "keep_one"
) -> None:
    """Make the logs the session's data; on failure keep the previous data and say why."""
    files: Sequence[tuple[str, bytes]] = ()
    try:
        files = sources()
        st.session_state[state.DATASET] = state.read(files, overlaps)
        st.session_state[state.LOAD_ERROR] = None
    except FakeusersError as exc:
        st.session_state[state.LOAD_ERROR] = every_file_error(files, exc)
    except Exception as exc:
        st.session_state[state.LOAD_ERROR] = state.friendly(action, exc)


def every_file_error(files: Sequence[tuple[str, bytes]], exc: FakeusersError) -> str:
    """The library's message for each file that cannot be read, not only the first one.

    The reader stops at the first bad file; with several uploads each is read alone to say
    what is wrong with every one of them. Errors that only the combination causes keep the
    reader's message.
    """
    if len(files) < 2:
        return str(exc)
    messages = []
    for source in files:
        try:
            reading.read_logs([source])
        except FakeusersError as one:
            messages.append(str(one))
    return "\n\n".join(messages) if messages else str(exc)


def load_upload(files: Sequence[Any] | None) -> None:
    """Read newly uploaded files, once per upload."""
    ids = tuple(f.file_id for f in files or ())
    if not ids and st.session_state[state.HANDLED_UPLOAD]:
        # The analyst removed the uploads: an error about them no longer applies.
        st.session_state[state.HANDLED_UPLOAD] = ()
        st.session_state[state.LOAD_ERROR] = None
    if not ids or ids == st.session_state[state.HANDLED_UPLOAD]:
        return
    st.session_state[state.HANDLED_UPLOAD] = ids
    load("reading the uploaded logs", lambda: [(f.name, f.getvalue()) for f in files])


def reread_overlaps() -> None:
    """Read the loaded files again with the overlaps choice just made; the model, costs and
    everything else in the session stay."""
    loaded = state.dataset()
    if loaded is not None and loaded.sources:
        choice = st.session_state[state.OVERLAPS_INPUT]
        load("reading the logs again", lambda: loaded.sources, choice)


def overlaps_choice(report: LoadReport) -> None:
    """Keep one copy or both of the users repeated in two files: the analyst's choice."""
    st.session_state[state.OVERLAPS_INPUT] = report.overlaps_kept
    st.radio(
        "Users with the same events in two files",
        list(OVERLAP_CHOICES),
        format_func=OVERLAP_CHOICES.__getitem__,
        horizontal=True,
        key=state.OVERLAPS_INPUT,
        on_change=reread_overlaps,
        help="Overlapping exports repeat users. One copy counts each of their events once; "
        "both copies count them twice (only right if they really happened twice).",
    )


def load_demo() -> None:
    demo = state.DEMO_CSV
    if not demo.is_file():
        st.session_state[state.LOAD_ERROR] = (
            f"The demo log {demo} is missing. Create it with "
            "`python -m fakeusers demo-data data/demo.csv --timestamps`, or upload a log."
        )
        return
    load("loading the demo data", lambda: [(demo.name, demo.read_bytes())])


st.title("Data")
st.caption(
    "Logs with a `Fake` column (1 = fake user, 0 = real) train and evaluate models; logs "
    "without it are scored. Several files are read as one log."
)
files = st.file_uploader(
    "Upload log CSVs",
    type=["csv", "gz", "parquet"],
    accept_multiple_files=True,
    key=state.UPLOADER,
    help="Columns UserId, Event, Category; optionally Fake and Timestamp. .csv, .csv.gz or "
    ".parquet.",
)
# Streamlit marks a file over the limit with a red icon and explains it only on hover.
st.caption(
    f"Up to {st.get_option('server.maxUploadSize'):,} MB per file. For a larger log, upload "
    "it gzip-compressed (.csv.gz) or split it into several files: they are read as one log."
)
load_upload(files)
if st.button("Load demo data", icon=":material/dataset:"):
    load_demo()
if st.session_state[state.LOAD_ERROR]:
    st.error(st.session_state[state.LOAD_ERROR], icon=":material/error:")

loaded = state.dataset()
if loaded is None:
    st.info("Upload one or more log CSVs, or load the demo data.")
    st.stop()

report = loaded.log.report
st.subheader("Load report")
st.markdown(f"**{', '.join(report.files)}**")
cols = st.columns(4)
cols[0].metric("Rows", f"{report.rows:,}")
cols[1].metric("Users", f"{report.users:,}")
if report.labelled:
    cols[2].metric(
        "Fake users",
        f"{report.fake_users:,}",
        f"{report.fake_share:.1%} of users",
        delta_color="off",
        delta_arrow="off",
    )
else:
    cols[2].metric(
        "Fake users", "unlabelled", "scored, not trained on", delta_color="off", delta_arrow="off"
    )
cols[3].metric("Timestamps", "yes" if report.has_timestamps else "no")
for warning in report.warnings:
    st.warning(warning, icon=":material/warning:")
if report.overlaps and loaded.sources:
    overlaps_choice(report)
if report.labelled and (problem := models.training_problem(loaded.log)):
    st.info(f"{problem} It can still be scored with a saved model.", icon=":material/info:")


def counts(values: dict[str, int], name: str) -> pd.DataFrame:
    total = max(sum(values.values()), 1)
    return pd.DataFrame(
        {
            name: list(values),
            "rows": list(values.values()),
            "share": [v / total for v in values.values()],
        }
    )


config = {
    "rows": st.column_config.NumberColumn("rows", format="localized"),
    "share": st.column_config.NumberColumn("share", format="percent"),
}
left, right = st.columns(2)
left.dataframe(counts(report.events, "event"), hide_index=True, column_config=config)
right.dataframe(counts(report.categories, "category"), hide_index=True, column_config=config)

st.subheader("Preview")
preview = pd.DataFrame(loaded.log.preview(20))
if "Timestamp" in preview:
    preview["Timestamp"] = pd.to_datetime(preview["Timestamp"], unit="s", utc=True)
st.dataframe(
    preview,
    hide_index=True,
    column_config={"Timestamp": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss.SSS")},
)
