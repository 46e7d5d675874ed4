"""Model: train on the loaded labelled log or load a saved model, and see how good it is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from fakeusers import explain, models, plots, progress, quality, training
from fakeusers.errors import FakeusersError
from fakeusers.store import ModelStore, default_name
from views import _state as state


def verdicts_in(loaded: state.Dataset) -> dict[str, str]:
    """The analysts' verdicts on users of the loaded log."""
    held = state.held().verdicts
    if not held:
        return {}
    ids = loaded.log.user_ids
    return {u: held[u] for u in ids[np.isin(ids, list(held))]}


def shown_in(status) -> progress.Progress:
    """Training's progress drawn in ``status``: each new stage as a line, and a bar with the
    share done and the time left."""
    bar = status.progress(0.0, text="Starting ...")
    last: list[str] = []

    def report(stage: str, done: float, eta_seconds: float | None) -> None:
        if not last or stage != last[-1]:
            status.write(stage)
            last.append(stage)
        left = progress.eta_words(eta_seconds) if done < 1.0 else "done"
        bar.progress(done, text=f"{done:.0%} · {left}" if left else f"{done:.0%}")

    return report


def train_form(loaded: state.Dataset | None) -> None:
    """Train on the loaded log when it is labelled (or verdicts label it); else say what is
    missing."""
    if loaded is None:
        st.info("Load a labelled log on the Data page to train a model.")
        st.page_link("views/data.py", label="Go to Data", icon=":material/upload_file:")
        return
    verdicts = verdicts_in(loaded)
    if not loaded.log.report.labelled and not verdicts:
        st.info(
            "The loaded log has no Fake column, so it can be scored but not used for training. "
            "Upload a labelled log to train, record verdicts on the Review page, or load a "
            "saved model below."
            + (
                " It has no timestamps either: train with 'Use timestamps' unticked, or load a "
                "model whose 'needs Timestamp' is 'no'."
                if loaded.log.timestamps is None
                else ""
            )
        )
        return
    log, counts = loaded.log, None
    use_verdicts = bool(verdicts) and st.checkbox(
        f"Use the analysts' verdicts ({len(verdicts):,} users of this log)",
        value=not loaded.log.report.labelled,
        disabled=not loaded.log.report.labelled,
        key=state.WITH_VERDICTS,
        help="Train on the log's labels overridden by the verdicts (confirmed fake, cleared), "
        "and on unlabelled users who have one. The new model is compared with the active one "
        "on the same folds, before you save and promote it.",
    )
    if use_verdicts:
        try:
            log, counts = training.verdict_training_log(loaded.log, verdicts)
        except FakeusersError as exc:
            st.info(str(exc))
            return
        st.caption(training.verdict_summary(counts))
    else:
        problem = models.training_problem(loaded.log)
        if problem is not None:
            st.info(f"{problem} Load a saved model below to score this log.")
            return
    try:
        refused = state.refusal("train")
    except FakeusersError as exc:  # a roles file that cannot be used
        st.error(str(exc), icon=":material/error:")
        return
    if refused is not None:
        st.info(refused, icon=":material/lock:")
        return
    kind, go = st.columns([3, 1], vertical_alignment="bottom")
    model_type = kind.selectbox(
        "Model type",
        models.MODEL_TYPES,
        format_func={
            "logistic": "logistic regression (fast, explainable)",
            "boosting": "gradient boosting (non-linear)",
        }.get,
    )
    use_timestamps = loaded.log.timestamps is not None and st.checkbox(
        "Use timestamps (rates and gaps)",
        value=True,
        key=state.USE_TIMESTAMPS,
        help="Timing features (events per minute, gaps between events) help to catch "
        "bots, but a model trained with them can only score logs that have a Timestamp "
        "column. Untick to train a model that scores any log.",
    )
    if not go.button("Train model", type="primary", icon=":material/model_training:"):
        return
    users = log.n_users
    failure = None
    previous = state.active_model()
    with st.status(f"Training {model_type} on {users:,} users ...", expanded=True) as status:
        try:
            model = models.train(
                log,
                model_type,
                use_timestamps=use_timestamps,
                progress=shown_in(status),
            )
            if counts is not None:
                model = training.trained_on_verdicts(model, counts, loaded.log)
            new = state.trained(model)
            if counts is not None and previous is not None:
                status.write(f"Scoring these users with {previous.label} ...")
                m, f = state.costs() or (None, None)
                both = training.compare_with_current(
                    loaded.log, log, previous.model, model, cost_fp=m, cost_fn=f
                )
                st.session_state[state.SAME_FOLDS] = (new.key, previous.label, both)
            state.activate(new)  # the previous one stays a candidate
            st.session_state.pop(state.MODEL_NAME, None)  # propose a name for the new model
            with_what = " with analysts' verdicts" if counts is not None else ""
            state.audit("train", count=users, detail=f"{model_type} trained{with_what}")
            status.update(label="Model trained", state="complete", expanded=False)
        except Exception as exc:
            failure = state.friendly("training the model", exc)
            status.update(label="Training failed", state="error", expanded=False)
    if failure is not None:  # in the open, not inside the collapsed progress box
        st.error(failure, icon=":material/error:")


def same_folds(kept: list[state.ActiveModel]) -> None:
    """A model retrained on verdicts against the one it replaces, on the same folds."""
    found = st.session_state.get(state.SAME_FOLDS)
    if not found or found[0] not in {m.key for m in kept}:
        return
    key, before, both = found
    after = next(m.label for m in kept if m.key == key)
    rows = [
        ("ROC AUC", "roc_auc", 3),
        ("average precision", "average_precision", 3),
        ("Brier score", "brier", 4),
        ("log loss", "log_loss", 4),
        ("cost at your costs", "cost", 2),
    ]
    table = pd.DataFrame(
        [
            {"figure": label, before: both["current"].get(k), after: both["new"].get(k)}
            for label, k, _ in rows
            if both["new"].get(k) is not None
        ]
    )
    users = int(both["new"]["users"])
    st.markdown(
        f"**{after} against {before}**, on the same {users:,} users and their verdict-corrected "
        "labels: the new model's out-of-fold probabilities, and the current model's as it "
        "stands (out-of-fold on its own training users, else users it never saw). Higher ROC "
        "AUC and average precision, lower Brier, log loss and cost are better:"
    )
    st.dataframe(table, hide_index=True)
    st.caption(
        "Save the new model (as a new version of the name it replaces), then promote it with "
        "`python -m fakeusers models promote NAME@VERSION` for the command line and the API."
    )


def compare(models: list[state.ActiveModel]) -> None:
    """The candidates side by side, which one to keep and why, and a way to make it active."""
    st.subheader("Candidates")
    st.caption(
        f"The models of this session (at most {state.MAX_CANDIDATES}), the active one first. "
        "Figures are out-of-fold, on each model's training users; the cost is at the costs "
        "set on the Decisions page."
    )
    at_costs = state.costs()
    rows = []
    for each in models:
        said = quality.Candidate.of(each.label, each.model).figures(*(at_costs or (None, None)))
        rows.append({"model": each.label, "active": "yes" if each is models[0] else ""} | said)
    # A small static table: the store's list below stays the page's one data frame.
    st.table(
        pd.DataFrame(rows)
        .set_index("model")
        .style.format(
            {
                "ROC AUC": "{:.3f}",
                "average precision": "{:.3f}",
                "Brier": "{:.4f}",
                "log loss": "{:.4f}",
                "cost at your costs": "{:,.0f}",
            },
            na_rep="n/a",
        )
    )
    with state.user_action("comparing the models"):
        advice = state.recommendation(models)
        if advice is None:
            return
        if advice.keep is None:
            found = st.session_state.get(state.SAME_FOLDS)
            if found and found[0] == models[0].key:
                return  # retrained on verdicts: compared below on the same users instead
            st.info(advice.reason, icon=":material/info:")
            return
        st.success(f"**Recommendation.** {advice.reason}", icon=":material/recommend:")
        keep = next(m for m in models if m.label == advice.keep)
        if keep is not models[0]:
            st.button(
                f"Make {keep.label} the active model",
                icon=":material/check_circle:",
                on_click=state.activate,
                args=(keep,),
            )


def show(shown: state.ActiveModel, active: bool) -> None:
    """A model's cross-validated quality in figures and plain words, its curves and features."""
    model = shown.model
    st.subheader(f"{'Active model' if active else 'Candidate'}: {shown.label}")
    if not active:
        st.button(
            "Make this the active model",
            icon=":material/check_circle:",
            on_click=state.activate,
            args=(shown,),
            help="Decisions and the Users page use the active model.",
        )
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
    words = state.meaning(shown)
    cols = st.columns(4)
    cols[0].metric("ROC AUC", f"{cv['roc_auc']:.3f}", help="Ranking quality; 1 is perfect.")
    cols[0].caption(words.roc_auc)
    cols[1].metric(
        "Average precision", f"{cv['average_precision']:.3f}", help="Area under precision-recall."
    )
    cols[1].caption(words.average_precision)
    cols[2].metric(
        "Brier score", f"{cv['brier']:.4f}", help="Calibration and sharpness; lower is better."
    )
    cols[2].caption(words.brier)
    cols[3].metric("Log loss", f"{cv['log_loss']:.4f}", help="The loss the models are tuned on.")
    cols[3].caption(words.log_loss)
    st.markdown(f"**What it costs.** {words.cost}")
    left, right = st.columns(2)
    left.plotly_chart(plots.roc_figure(model.oof_y, model.oof_p, cv["roc_auc"]))
    right.plotly_chart(
        plots.precision_recall_figure(model.oof_y, model.oof_p, cv["average_precision"])
    )
    left, right = st.columns(2)
    left.plotly_chart(plots.reliability_figure(model.oof_y, model.oof_p))
    left.caption(
        f"{words.reliability} The number by each point is how many users it rests on "
        "(also its size, and on hover)."
    )
    with right, state.user_action("measuring feature importance"):
        measured = explain.importance(model)  # a logistic model's needs no data
        if measured is None and active:
            try:
                scored = state.scored_log()
            except FakeusersError:
                scored = None  # the Users and Decisions pages say why
            measured = None if scored is None else scored.importance
        if measured is not None:
            st.plotly_chart(plots.importance_figure(*measured))
        elif active:
            st.info(
                "Load data that this model can score to measure the importance of its features."
            )
        else:
            st.info("Make this model active to measure the importance of its features.")


def taken(name: str) -> bool:
    """Whether to offer 'Replace'; the store itself decides when saving."""
    try:
        return ModelStore().exists(name)
    except FakeusersError:
        return False  # a name the store refuses: saving says why


def save_form(current: state.ActiveModel) -> None:
    """Save ``current`` (active or not) to the store under a name."""
    try:
        if state.refusal("train") is not None:
            return  # the reason is said above, where training is refused
    except FakeusersError:
        return
    if st.session_state.get(state.NAME_FOR) != current.key:
        st.session_state.pop(state.MODEL_NAME, None)  # propose a name for this model
        st.session_state[state.NAME_FOR] = current.key
    with st.form("save"):
        st.markdown("**Save this model** so the command line and later sessions can use it.")
        st.session_state.setdefault(state.MODEL_NAME, default_name(current.model.model_type))
        name = st.text_input("Model name", key=state.MODEL_NAME).strip()
        # Form values arrive on submit, so this is about the name that was submitted.
        replace = False
        if taken(name):
            if st.session_state.get(state.REPLACE_CONFIRMS) != name:
                # A tick confirms replacing the model named in the hint, no other one.
                st.session_state[state.REPLACE_MODEL] = False
                st.session_state[state.REPLACE_CONFIRMS] = name
            st.warning(
                f"A model named '{name}' is already saved, and the store is shared with the "
                "other analysts. Choose another name, or tick 'Replace' to save this model as "
                f"the next version of '{name}': its earlier versions are kept.",
                icon=":material/warning:",
            )
            replace = st.checkbox("Replace (save as a new version)", key=state.REPLACE_MODEL)
        if st.form_submit_button("Save model", icon=":material/save:"):
            with state.user_action("saving the model"):
                card = ModelStore().save(name, current.model, replace=replace)
                ref = f"{card['name']}@{card['version']}"
                state.audit("save", model=ref, count=current.model.training.get("users"))
                state.named(current, ref)
                st.rerun()


def ref(entry: dict) -> str:
    return entry["name"] if entry.get("version") is None else f"{entry['name']}@{entry['version']}"


def saved_models() -> None:
    """Every version of every saved model, which one is the default, and a loader."""
    model_store = ModelStore()
    entries = []
    for entry in model_store.list():
        try:
            entries += model_store.versions(entry["name"])
        except FakeusersError:
            entries.append(entry)  # unusable: listed with the reason
    if not entries:
        st.info("No saved models yet. Train one above and save it.")
        return
    table = pd.DataFrame(
        {
            "model": [ref(e) for e in entries],
            "default": ["yes" if e.get("default") else "" for e in entries],
            "created": [str(e.get("created", ""))[:19].replace("T", " ") for e in entries],
            "type": [e.get("model_type", "?") for e in entries],
            "needs Timestamp": [
                {True: "yes", False: "no"}.get(e.get("vocabulary", {}).get("timestamps"), "?")
                for e in entries
            ],
            "trained on": [", ".join(e.get("training", {}).get("files", [])) for e in entries],
            "users": [e.get("training", {}).get("users") for e in entries],
            "ROC AUC": [e.get("cv", {}).get("roc_auc") for e in entries],
            "avg precision": [e.get("cv", {}).get("average_precision") for e in entries],
            "Brier": [e.get("cv", {}).get("brier") for e in entries],
            "status": [e.get("error", "ok") for e in entries],
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
    usable = [e for e in entries if "error" not in e]
    default = next((i for i, e in enumerate(usable) if e.get("default")), 0)
    pick, go = st.columns([3, 1], vertical_alignment="bottom")
    chosen = pick.selectbox(
        "Saved model", [ref(e) for e in usable], index=default, key=state.MODEL_PICK
    )
    if go.button("Load model", icon=":material/download:", disabled=not usable) and chosen:
        with state.user_action(f"loading model '{chosen}'"):
            state.activate(state.ActiveModel.stored(ModelStore().load(chosen)))
            st.rerun()


def pick(models: list[state.ActiveModel]) -> state.ActiveModel:
    """Which candidate's figures to show: the active one unless another is chosen."""
    keys = [m.key for m in models]
    if st.session_state[state.CANDIDATE_SHOWN] not in keys:
        st.session_state[state.CANDIDATE_SHOWN] = keys[0]
    if len(models) > 1:
        st.radio(
            "Show the figures of",
            keys,
            format_func={
                m.key: m.label + (" (active)" if i == 0 else "") for i, m in enumerate(models)
            }.get,
            horizontal=True,
            **state.bound(state.CANDIDATE_SHOWN, state.CANDIDATE_SHOWN_INPUT),
        )
    return models[keys.index(st.session_state[state.CANDIDATE_SHOWN])]


st.title("Model")
st.subheader("Train a model")
train_form(state.dataset())
dropped = st.session_state.pop(state.DROPPED, None)
if dropped:
    st.warning(dropped, icon=":material/delete:")
kept = state.candidates()
if kept:
    if len(kept) > 1:
        compare(kept)
    same_folds(kept)
    shown = pick(kept)
    show(shown, active=shown.key == kept[0].key)
    if shown.name is None:
        save_form(shown)
st.subheader("Saved models")
with state.user_action("listing the saved models"):
    saved_models()
