"""What a quality job's process leaves in its folder is untrusted: read_outcome and read_profile accept only a
bounded, well-formed document and report anything else as no outcome or a failed profile."""

from __future__ import annotations

import orjson
import pytest

from server.engine import quality_runs
from server.engine.quality_bodies import OUTCOMES_FILE, PROFILE_FILE

NO_PROFILE = {"status": "failed", "error": "the profiling process gave no valid profile"}
OUTCOME = {"key": "qres_1", "status": "failed", "rows_checked": 4, "rows_failed": 1, "nulls": 0,
           "pass_ratio": 0.75, "observed": None, "sample": [{"id": 2}], "error": None}
PROFILE = {"row_count": 4, "columns": [{"name": "id", "type": "integer", "null_count": 0}]}


def test_a_well_formed_outcome_and_profile_are_read_back(tmp_path):
    # given the files a process wrote
    (tmp_path / OUTCOMES_FILE).write_bytes(orjson.dumps([OUTCOME]))
    (tmp_path / PROFILE_FILE).write_bytes(orjson.dumps(PROFILE))
    # when
    outcome = quality_runs.read_outcome(str(tmp_path), "qres_1")
    profile = quality_runs.read_profile(str(tmp_path))
    # then
    assert outcome is not None and (outcome["status"], outcome["rows_failed"], outcome["pass_ratio"]) == (
        "failed", 1, 0.75)
    assert quality_runs.read_outcome(str(tmp_path), "qres_other") is None
    assert profile == {"status": "succeeded", "row_count": 4, "columns": PROFILE["columns"]}


@pytest.mark.parametrize("content", [None, b"{not json", b"null"], ids=["absent", "not-json", "null"])
def test_a_missing_or_broken_file_is_no_outcome_and_a_failed_profile(tmp_path, content):
    # given no file, or one that is not a usable JSON document
    if content is not None:
        (tmp_path / OUTCOMES_FILE).write_bytes(content)
        (tmp_path / PROFILE_FILE).write_bytes(content)
    # when / then
    assert quality_runs.read_outcome(str(tmp_path), "qres_1") is None
    assert quality_runs.read_profile(str(tmp_path)) == NO_PROFILE


def test_a_file_over_the_size_bound_is_not_parsed(tmp_path, monkeypatch):
    # given well-formed files larger than the bound
    (tmp_path / OUTCOMES_FILE).write_bytes(orjson.dumps([OUTCOME]))
    (tmp_path / PROFILE_FILE).write_bytes(orjson.dumps(PROFILE))
    monkeypatch.setattr(quality_runs, "MAX_OUTCOMES_BYTES", 10)
    # when / then
    assert quality_runs.read_outcome(str(tmp_path), "qres_1") is None
    assert quality_runs.read_profile(str(tmp_path)) == NO_PROFILE
