"""The bad-input corpus through the dashboard's uploader: the same decisions as CLI and API.

The representative files of ``tests/data/bad/`` (``FACE_CASES``; the library reads them all) are
uploaded on the Data page. A refused file is uploaded
after a labelled log was loaded and a model trained: it shows the library's one-line message
with ``st.error``, no exception element, and the data and model from before stay active and
on screen. An accepted file shows its load report, with exactly the expected warnings under
the upload.
"""

from __future__ import annotations

import pytest

from tests.app.conftest import goto, metric, new_app, train, upload
from tests.bad_corpus import FACE_CASES, BadCase
from views import _state as state


@pytest.mark.parametrize("case", FACE_CASES, ids=lambda c: c.name)
def test_corpus_file_upload(case: BadCase, labelled: bytes) -> None:
    at = new_app()
    if case.decision == "refuse":
        train(upload(at, ("before.csv", labelled)))
        before = (at.session_state[state.DATASET], at.session_state[state.MODEL])
        assert all(before)
    upload(at, (case.name, case.path.read_bytes()))
    assert not at.exception, [e.value for e in at.exception]
    if case.decision == "refuse":
        (error,) = at.error
        case.check_refusal(error.value)
        assert at.session_state[state.DATASET] is before[0], "the loaded data was replaced"
        assert at.session_state[state.MODEL] is before[1], "the active model was replaced"
        assert metric(at, "Rows") == "20,000", "the previous load report stays on screen"
        sidebar = " ".join(m.value for m in at.sidebar.markdown)
        assert "before.csv" in sidebar and "trained here, not saved" in sidebar
    else:
        assert not at.error, [e.value for e in at.error]
        case.check_warnings([w.value for w in at.warning])
        if case.rows is not None:
            assert metric(at, "Rows") == f"{case.rows:,}"
        if case.users is not None:
            assert metric(at, "Users") == f"{case.users:,}"
        goto(at, "users")  # an accepted odd file can be explored
        assert not at.exception, [e.value for e in at.exception]
