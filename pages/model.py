"""Model: train on the loaded labelled log or load a saved model, and see how good it is."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from fakeusers import plots
from fakeusers.models import MODEL_TYPES
from pages import _state as state

st.title("Model")

st.subheader("Train a model")
loaded = state.dataset()
if loaded is None:
    st.info("Load a labelled log on the Data page to train a model.")
    st.page_link("pages/data.py", label="Go to Data", icon=":material/upload_file:")
elif not loaded.log.report.labelled:
    st.info(
        "The loaded log has no Fake column, so it can be scored but not used for training. "
        "Upload a labelled log to train, or load a saved model below."
        + (
            " It has no timestamps either: train with 'Use timestamps' unticked, or load a "
            "model whose 'needs Timestamp' is 'no'."
            if loaded.log.timestamps is None
            else ""
        )
    )
else:
    kind, go = st.columns([3, 1], vertical_alignment="bottom")
    model_type = kind.selectbox(
        "Model type",
        MODEL_TYPES,
        format_func={
            "logistic": "logistic regression (fast, explainable)",
            "boosting": "gradient boosting (non-linear)",
        }.get,
    )
    use_timestamps = False
    if loaded.log.timestamps is not None:
        use_timestamps = st.checkbox(
            "Use timestamps (rates and gaps)",
            value=True,
            key=state.USE_TIMESTAMPS,
            help="Timing features (events per minute, gaps between events) help to catch "
            "bots, but a model trained with them can only score logs that have a Timestamp "
            "column. Untick to train a model that scores any log.",
        )
    if go.button("Train model", type="primary", icon=":material/model_training:"):
        users = loaded.log.n_users
        with st.status(f"Training {model_type} on {users:,} users ...", expanded=True) as status:
            try:
                state.train(model_type, progress=status.write, use_timestamps=use_timestamps)
                status.update(label="Model trained", state="complete", expanded=False)
            except Exception as exc:
                status.update(label="Training failed", state="error", expanded=False)
                st.error(state.friendly("training the model", exc), icon=":material/error:")

current = state.active_model()
if current is not None:
    model = current.model
    st.subheader(f"Active model: {current.name or 'trained here, not saved yet'}")
    cv = model.cv
    training = model.training
    st.caption(
        f"{model.model_type} · trained on {', '.join(training.get('files', [])) or '?'} "
        f"({cv['users']:,} users, {cv['fake_users']:,} fake) · "
        + (
            "needs timestamps: scores only logs with a Timestamp column"
            if model.vocabulary.timestamps
            else "does not use timestamps: scores any log"
        )
        + " · metrics cross-validated over 5 folds by user (out-of-fold)"
    )
    cols = st.columns(4)
    cols[0].metric("ROC AUC", f"{cv['roc_auc']:.3f}", help="Ranking quality; 1 is perfect.")
    cols[1].metric(
        "Average precision", f"{cv['average_precision']:.3f}", help="Area under precision-recall."
    )
    cols[2].metric(
        "Brier score", f"{cv['brier']:.4f}", help="Calibration and sharpness; lower is better."
    )
    cols[3].metric("Log loss", f"{cv['log_loss']:.4f}", help="The loss the models are tuned on.")
    left, right = st.columns(2)
    left.plotly_chart(plots.roc_figure(model.oof_y, model.oof_p, cv["roc_auc"]))
    right.plotly_chart(
        plots.precision_recall_figure(model.oof_y, model.oof_p, cv["average_precision"])
    )
    left, right = st.columns(2)
    left.plotly_chart(plots.reliability_figure(model.oof_y, model.oof_p))
    with right, state.user_action("measuring feature importance"):
        measured = state.importance()
        if measured is None:
            st.info("Load data to measure the importance of a boosting model's features.")
        else:
            series, title, unit = measured
            st.plotly_chart(plots.importance_figure(series, title, unit))

    if current.name is None:
        with st.form("save"):
            st.markdown("**Save this model** so the command line and later sessions can use it.")
            st.session_state.setdefault(
                state.MODEL_NAME, f"{model.model_type}-{time.strftime('%Y%m%d-%H%M%S')}"
            )
            name = st.text_input("Model name", key=state.MODEL_NAME).strip()
            # Form values arrive on submit, so this checks the name that was submitted.
            taken = state.name_taken(name)
            replace = False
            if taken:
                if st.session_state.get(state.REPLACE_CONFIRMS) != name:
                    # A tick confirms replacing the model named in the warning, no other one.
                    st.session_state[state.REPLACE_MODEL] = False
                    st.session_state[state.REPLACE_CONFIRMS] = name
                st.warning(
                    f"A model named '{name}' is already saved, and the store is shared with "
                    "the other analysts. Choose another name, or tick the box to replace it.",
                    icon=":material/warning:",
                )
                replace = st.checkbox("Replace the existing model", key=state.REPLACE_MODEL)
            submitted = st.form_submit_button("Save model", icon=":material/save:")
            if submitted and (replace or not taken):
                with state.user_action("saving the model"):
                    state.save(name, replace=replace)
                    st.rerun()

st.subheader("Saved models")
with state.user_action("listing the saved models"):
    cards = state.model_cards()
    if not cards:
        st.info("No saved models yet. Train one above and save it.")
    else:
        table = pd.DataFrame(
            {
                "name": [c["name"] for c in cards],
                "created": [str(c.get("created", ""))[:19].replace("T", " ") for c in cards],
                "type": [c.get("model_type", "?") for c in cards],
                "needs Timestamp": [
                    {True: "yes", False: "no"}.get(c.get("vocabulary", {}).get("timestamps"), "?")
                    for c in cards
                ],
                "trained on": [", ".join(c.get("training", {}).get("files", [])) for c in cards],
                "users": [c.get("training", {}).get("users") for c in cards],
                "ROC AUC": [c.get("cv", {}).get("roc_auc") for c in cards],
                "avg precision": [c.get("cv", {}).get("average_precision") for c in cards],
                "Brier": [c.get("cv", {}).get("brier") for c in cards],
                "status": [c.get("error", "ok") for c in cards],
            }
        )
        st.dataframe(
            table,
            hide_index=True,
            column_config={
                "users": st.column_config.NumberColumn(format="localized"),
                "ROC AUC": st.column_config.NumberColumn(format="%.3f"),
                "avg precision": st.column_config.NumberColumn(format="%.3f"),
                "Brier": st.column_config.NumberColumn(format="%.4f"),
            },
        )
        usable = [c["name"] for c in cards if "error" not in c]
        pick, go = st.columns([3, 1], vertical_alignment="bottom")
        name = pick.selectbox("Saved model", usable, key=state.MODEL_PICK)
        if go.button("Load model", icon=":material/download:", disabled=not usable) and name:
            with state.user_action(f"loading model '{name}'"):
                state.activate_saved(name)
                st.rerun()
