"""`docc-server worker` whose jobs stop for good inside their cleaner step, so a test can kill it mid-job.

Run as `python -m tests.engine.held_worker`; everything but the held step is the real worker.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from server.__main__ import main
from server.engine import runner

_real = runner.run_pipeline


def _held(steps: Any, resolve: Any, ctx: Any, policy: Any) -> Any:
    on_start = ctx.on_step_start

    def start(step_id: str) -> None:
        on_start(step_id)
        if step_id == "clean":
            ctx.log("info", step_id, "held by the test worker")
            threading.Event().wait()

    ctx.on_step_start = start
    return _real(steps, resolve, ctx, policy)


if __name__ == "__main__":
    runner.run_pipeline = _held
    sys.exit(main(["worker"]))
