"""The bad-input corpus through the dashboard's uploader: the same decisions as CLI and API.

Each file of ``tests/data/bad/`` is uploaded on the Data page. A refused file shows the
library's one-line message with ``st.error`` and nothing else breaks; an accepted file shows
its load report, with exactly the expected warnings under the upload.
"""

from __future__ import annotations

import pytest

from tests.app.conftest import goto, metric, new_app, upload
from tests.bad_corpus import CASES, BadCase


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_corpus_file_upload(case: BadCase) -> None:
    at = upload(new_app(), (case.name, case.path.read_bytes()))
    assert not at.exception, [e.value for e in at.exception]
    if case.decision == "refuse":
        (error,) = at.error
        case.check_refusal(error.value)
        assert not at.metric, "nothing was loaded"
        assert at.info  # "Upload one or more log CSVs, or load the demo data."
    else:
        assert not at.error, [e.value for e in at.error]
        case.check_warnings([w.value for w in at.warning])
        if case.rows is not None:
            assert metric(at, "Rows") == f"{case.rows:,}"
        if case.users is not None:
            assert metric(at, "Users") == f"{case.users:,}"
        goto(at, "users")  # an accepted odd file can be explored
        assert not at.exception, [e.value for e in at.exception]
