"""What the app hands the engine: the domain's follow-up when a quality run or a profile has landed."""

from __future__ import annotations

from resolvers.quality.profiles import profile_landed
from resolvers.quality.runs import result_landed


async def landed(object_id: str) -> None:
    """Dispatch on the id's prefix: `dp_` is a profile, anything else a quality result."""
    if object_id.startswith("dp_"):
        await profile_landed(object_id)
    else:
        await result_landed(object_id)
