"""Old entries of the job feed are deleted in batches; the counter stays, so cursors keep growing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.engine.job_event_retention import delete_old_job_events
from server.models.engine import JobEvent, JobEventCounter


async def _entry(seq: int, days_ago: float) -> None:
    await JobEvent.create(workspace_id="ws_default", seq=seq, job_id="job_x", pipeline_id="pl_x", kind="changed",
                          status="running", time=datetime.now(UTC) - timedelta(days=days_ago))


async def test_entries_older_than_the_cutoff_go_in_batches_and_the_counter_stays(db):
    # given seven old entries and two recent ones, and the workspace's counter at 9
    for seq in range(1, 8):
        await _entry(seq, days_ago=40)
    for seq in (8, 9):
        await _entry(seq, days_ago=1)
    await JobEventCounter.create(workspace_id="ws_default", seq=9)
    # when entries older than 30 days are deleted, three at a time
    deleted = await delete_old_job_events(datetime.now(UTC) - timedelta(days=30), batch=3)
    again = await delete_old_job_events(datetime.now(UTC) - timedelta(days=30), batch=3)
    # then the old ones are gone, the recent ones stay, and the next cursor is still past every old one
    assert deleted == 7 and again == 0
    assert sorted(await JobEvent.all().values_list("seq", flat=True)) == [8, 9]
    assert (await JobEventCounter.get(workspace_id="ws_default")).seq == 9
