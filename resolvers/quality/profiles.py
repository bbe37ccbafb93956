"""Dataset profiles: start one in the job workers, wait for it, read the latest; a landed one sets `last_profiled`."""

from __future__ import annotations

from datetime import UTC, datetime

from resolvers.errors import NotFound
from resolvers.ownership import load_owned
from resolvers.principal import Principal
from resolvers.quality.checks import cancel_running, wait_finished
from resolvers.quality.rules import READ_DATA, WRITE
from resolvers.views.quality import DatasetProfileView
from server.engine.bus import Event, publish
from server.engine.quality_runs import QUALITY_TOPIC
from server.models.base import new_id
from server.models.datasets import Dataset
from server.models.quality import DatasetProfile


def profile_topic(profile_id: str) -> str:
    """The topic on which one profile announces that it finished."""
    return f"profile:{profile_id}"


async def profile_dataset(principal: Principal, dataset_id: str) -> DatasetProfileView:
    """Start profiling a dataset (its figures are data: needs read:datasets and write:quality); raises NotFound."""
    principal.require(WRITE)
    principal.require(READ_DATA)
    dataset = await load_owned(Dataset, "dataset", principal, dataset_id)
    row = await DatasetProfile.create(id=new_id("dp"), workspace_id=dataset.workspace_id, dataset_id=dataset.id,
                                      schema_version=dataset.schema_version, started_at=datetime.now(UTC),
                                      created_by=principal.subject)
    await publish(Event(QUALITY_TOPIC, "created", {"profile_id": row.id}))
    return DatasetProfileView.from_row(row)


async def wait_profile(principal: Principal, profile_id: str, seconds: float) -> DatasetProfileView:
    """The profile once it finished, or as it is after `seconds` (at most a minute); raises NotFound."""
    principal.require(READ_DATA)
    row = await wait_finished(lambda: load_owned(DatasetProfile, "profile", principal, profile_id),
                              profile_topic(profile_id), seconds)
    return DatasetProfileView.from_row(row)


async def get_profile(principal: Principal, profile_id: str) -> DatasetProfileView:
    """One profile run of the caller's workspace, running or finished; raises NotFound."""
    principal.require(READ_DATA)
    return DatasetProfileView.from_row(await load_owned(DatasetProfile, "profile", principal, profile_id))


async def cancel_profile(principal: Principal, profile_id: str) -> DatasetProfileView:
    """Stop a running profile (at once when no worker has claimed it yet, else in its process, like a job's
    cancel); raises NotFound, Conflict once it finished."""
    principal.require(WRITE)
    principal.require(READ_DATA)
    row = await load_owned(DatasetProfile, "profile", principal, profile_id)
    await cancel_running(DatasetProfile, row, "profile", "profile_id", profile_landed)
    return DatasetProfileView.from_row(await load_owned(DatasetProfile, "profile", principal, profile_id))


async def latest_profile(principal: Principal, dataset_id: str) -> DatasetProfileView:
    """The dataset's newest finished profile; raises NotFound (also when it was never profiled)."""
    principal.require(READ_DATA)
    dataset = await load_owned(Dataset, "dataset", principal, dataset_id)
    row = await DatasetProfile.filter(dataset_id=dataset.id, status__in=("succeeded", "failed")) \
        .order_by("-created_at", "-id").first()
    if row is None:
        raise NotFound("profile", dataset.id)
    return DatasetProfileView.from_row(row)


async def profile_landed(profile_id: str) -> None:
    """A successful profile sets the dataset's `last_profiled`; then the notice."""
    row = await DatasetProfile.get_or_none(id=profile_id)
    if row is None:
        return
    if row.status == "succeeded":
        await Dataset.filter(id=row.dataset_id).update(last_profiled=row.finished_at)  # type: ignore[attr-defined]
    await publish(Event(profile_topic(row.id), "finished", {"profile_id": row.id, "status": row.status}))
