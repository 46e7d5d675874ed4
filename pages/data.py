"""Data: upload logs (or load the demo), then read the load report and a preview."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import _state as state

st.title("Data")
st.caption(
    "Logs with a `Fake` column (1 = fake user, 0 = real) train and evaluate models; logs "
    "without it are scored. Several files are read as one log."
)
files = st.file_uploader(
    "Upload log CSVs",
    type=["csv", "gz"],
    accept_multiple_files=True,
    key=state.UPLOADER,
    help="Columns UserId, Event, Category; optionally Fake and Timestamp. .csv or .csv.gz.",
)
# Streamlit marks a file over the limit with a red icon and explains it only on hover.
st.caption(
    f"Up to {st.get_option('server.maxUploadSize'):,} MB per file. For a larger log, upload "
    "it gzip-compressed (.csv.gz) or split it into several files: they are read as one log."
)
state.load_upload(files)
if st.button("Load demo data", icon=":material/dataset:"):
    state.load_demo()
if state.load_error():
    st.error(state.load_error(), icon=":material/error:")

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
