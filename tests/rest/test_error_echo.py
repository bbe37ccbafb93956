"""What an error repeats of the client's input: at most 100 characters, never a control character."""

from __future__ import annotations

from resolvers.errors import ECHO_LIMIT, NotFound, echo


def test_echo_keeps_a_short_id_as_it_is():
    assert echo("ds_123") == "ds_123"


def test_echo_cuts_a_long_id_with_an_ellipsis_and_drops_control_characters():
    # when
    shown = echo("ds_\x00\x1b[31m" + "x" * 8000)
    # then
    assert len(shown) == ECHO_LIMIT and shown.endswith("\u2026")
    assert shown.startswith("ds_[31m") and not any(ord(c) < 32 for c in shown)


def test_not_found_carries_the_cut_id_in_message_and_details():
    error = NotFound("dataset", "ds_" + "y" * 500)
    assert error.details["id"] == echo("ds_" + "y" * 500)
    assert len(error.message) < 150


async def test_a_404_for_an_8kb_id_with_nul_bytes_echoes_a_short_clean_id(client):
    # given an id of about 8 KB holding NUL and escape bytes
    raw = "ds_%00%1B" + "z" * 8000
    # when
    resp = await client.get(f"/api/v1/datasets/{raw}")
    # then
    assert resp.status == 404
    error = (await resp.json())["error"]
    assert error["code"] == "NOT_FOUND"
    assert len(error["details"].get("id", "")) <= ECHO_LIMIT and len(error["message"]) <= ECHO_LIMIT + 50
    text = await resp.text()
    assert "\\u0000" not in text and "\\u001b" not in text and "z" * ECHO_LIMIT not in text


async def test_an_unknown_dataset_in_a_pipeline_is_named_briefly(client):
    # when
    resp = await client.post("/api/v1/pipelines", json={"name": "p", "steps": [
        {"id": "in", "type": "data_source", "config": {"dataset_id": "ds_\x00" + "q" * 5000}}]})
    # then
    assert resp.status == 400
    reason = (await resp.json())["error"]["details"]["reason"]
    assert "\x00" not in reason and len(reason) < ECHO_LIMIT + 60
