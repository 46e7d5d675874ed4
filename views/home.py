"""Home: what the tool does, where the session stands, and the next step."""

from __future__ import annotations

import streamlit as st

from views import _state as state
from views import _status

st.title("fakeusers")
st.markdown(
    "fakeusers finds the bots and fake accounts in a marketplace's click logs: it gives every "
    "user a calibrated probability of being fake. You set what a wrong decision costs, "
    "blocking a real user or missing a fake one, and it flags the users whom it is cheaper "
    "to block. You review why each user was flagged and download the list as a CSV file."
)

loaded, current = state.dataset(), state.active_model()
left, right = st.columns(2)
with left, st.container(border=True):
    st.markdown("**Data**")
    st.markdown(_status.data_summary())
with right, st.container(border=True):
    st.markdown("**Model**")
    st.markdown(_status.model_summary())

st.subheader("Next step")
if loaded is None:
    st.page_link(
        "views/data.py",
        label="Upload click logs, or load the demo",
        icon=":material/arrow_forward:",
    )
elif current is None:
    st.page_link(
        "views/model.py",
        label="Train a model, or load a saved one",
        icon=":material/arrow_forward:",
    )
else:
    st.page_link(
        "views/decisions.py",
        label="Set the costs and see who is flagged",
        icon=":material/arrow_forward:",
    )
    st.page_link(
        "views/users.py", label="Explore users and why they look fake", icon=":material/search:"
    )
