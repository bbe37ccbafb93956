"""Schedules: validated cron and zones, next runs across DST, and exactly one job per tick."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from resolvers import pipelines, schedules
from resolvers.errors import ValidationError
from resolvers.jobs import fire_tick
from resolvers.validation import parse
from server.engine.bus import binding
from server.engine.scheduler import Scheduler
from server.models.engine import Job, Schedule

from .helpers import PRINCIPAL, TEST_POLICY, clean_steps, csv_dataset, write_csv


async def scheduled_pipeline(tmp_path, cron: str = "0 2 * * *", timezone: str = "UTC") -> str:
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    spec = pipelines.PipelineCreate(name="nightly", steps=clean_steps(dataset_id, {"path": str(tmp_path / "o.csv")}),
                                    schedule=schedules.ScheduleSpec(cron=cron, timezone=timezone))
    row = await pipelines.create_pipeline(PRINCIPAL, spec, policy=TEST_POLICY)
    return row.id


def test_next_runs_follow_daylight_saving_time():
    # given a schedule at 02:30 in Berlin, the night clocks jump from 02:00 to 03:00
    before = datetime(2025, 3, 29, 12, 0, tzinfo=UTC)
    # when
    runs = schedules.next_runs("30 2 * * *", "Europe/Berlin", 3, now=before)
    # then the missing 02:30 runs at 03:00 local, and the offsets change from +01:00 to +02:00
    assert [r.isoformat() for r in runs] == ["2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00",
                                             "2025-04-01T02:30:00+02:00"]


@pytest.mark.parametrize(("schedule", "field"), [
    ({"cron": "61 * * * *"}, "schedule.cron"),
    ({"cron": "* * *"}, "schedule.cron"),
    ({"cron": "0 2 * * *", "timezone": "Mars/Olympus"}, "schedule.timezone"),
    ({"cron": "0 2 * * *", "tz": "UTC"}, "schedule.tz"),
    ({"cron": "* * * * * *"}, "schedule.cron"),
    ({"cron": "*/5 * * * * *"}, "schedule.cron"),
    ({"cron": "0,30 * * * * *"}, "schedule.cron"),
    ({"cron": "60 * * * * *"}, "schedule.cron"),
])
def test_invalid_schedules_are_refused(schedule, field):
    # when / then
    with pytest.raises(ValidationError) as info:
        parse(schedules.ScheduleSpec, schedule, "schedule", prefix="schedule")
    assert info.value.details["field"] == field


def test_a_six_field_schedule_names_one_second_and_fires_once_a_minute():
    spec = parse(schedules.ScheduleSpec, {"cron": "30 */5 * * * *"}, "schedule", prefix="schedule")
    runs = schedules.next_runs(spec.cron, "UTC", 3, now=datetime(2025, 6, 1, 2, 0, 10, tzinfo=UTC))
    assert [r.isoformat() for r in runs] == ["2025-06-01T02:00:30+00:00", "2025-06-01T02:05:30+00:00",
                                             "2025-06-01T02:10:30+00:00"]
    with pytest.raises(ValidationError) as info:
        parse(schedules.ScheduleSpec, {"cron": "* * * * * *"}, "schedule", prefix="schedule")
    assert "at most once a minute" in info.value.details["reason"]


async def test_a_tick_fired_by_two_processes_makes_one_job(db, tmp_path):
    # given a scheduled pipeline
    pipeline_id = await scheduled_pipeline(tmp_path)
    schedule = await Schedule.get(pipeline_id=pipeline_id)
    fired = datetime(2025, 6, 1, 2, 0, 0, 200_000, tzinfo=UTC)
    # when two schedulers fire the same tick, a little apart
    first, second = await asyncio.gather(fire_tick(schedule.id, fired),
                                         fire_tick(schedule.id, fired.replace(microsecond=0)))
    # then exactly one job exists for it
    made = [job for job in (first, second) if job is not None]
    assert len(made) == 1
    jobs = await Job.filter(pipeline_id=pipeline_id)
    assert [(j.trigger, j.scheduled_for) for j in jobs] == [("schedule", datetime(2025, 6, 1, 2, 0, tzinfo=UTC))]


async def test_a_paused_schedule_makes_no_job(db, tmp_path):
    # given
    pipeline_id = await scheduled_pipeline(tmp_path)
    await schedules.pause_schedule(PRINCIPAL, pipeline_id)
    schedule = await Schedule.get(pipeline_id=pipeline_id)
    # when
    made = await fire_tick(schedule.id, datetime(2025, 6, 1, 2, 0, tzinfo=UTC))
    # then
    assert made is None and not await Job.filter(pipeline_id=pipeline_id).exists()


async def test_a_real_crontab_fires_and_is_disarmed_when_removed(db, tmp_path):
    # given a schedule firing every second (stored as such directly: saving one is refused), armed from the
    # database as on a restart
    pipeline_id = await scheduled_pipeline(tmp_path, cron="0 * * * * *")
    await Schedule.filter(pipeline_id=pipeline_id).update(cron="* * * * * *")
    scheduler = Scheduler(fire_tick)
    await scheduler.start()
    try:
        # when
        for _ in range(100):
            if await Job.filter(pipeline_id=pipeline_id, trigger="schedule").exists():
                break
            await asyncio.sleep(0.05)
        # The removal is announced on the bus bound to the request; here, the scheduler's own.
        with binding(scheduler.bus):
            await schedules.remove_schedule(PRINCIPAL, pipeline_id)
        for _ in range(100):
            if not scheduler.crons:
                break
            await asyncio.sleep(0.02)
        armed_after_removal = dict(scheduler.crons)
    finally:
        await scheduler.stop()
    # then it made a scheduled job, and removing the schedule disarmed it (before the scheduler stopped)
    assert await Job.filter(pipeline_id=pipeline_id, trigger="schedule").exists()
    assert armed_after_removal == {}
