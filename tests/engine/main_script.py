"""Run as a script path: starts one job process; every run of this file's top level is written down.

If the job's process re-ran the parent's main module, the record would show `__mp_main__` too.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import threading

from server.engine.child import JobPlan
from server.engine.sandbox import ChildRun, Limits
from tests.engine.child_bodies import quick

with open(sys.argv[1], "a") as record:
    record.write(f"{__name__}\n")


async def _run() -> str:
    with tempfile.TemporaryDirectory() as temp:
        plan = JobPlan(job_id="job_script", steps=[{"id": "input"}], temp_dir=temp)
        outcome = await ChildRun(plan, Limits(), lambda *_: None, threading.Event(), quick).run()
    return outcome.status


if __name__ == "__main__":
    print(asyncio.run(_run()))
