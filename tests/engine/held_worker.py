"""`docc-server worker` whose jobs stop for good inside their cleaner step, so a test can kill it mid-job.

Run as `python -m tests.engine.held_worker`; everything but the held step is the real worker.
"""

from __future__ import annotations

import sys
from functools import partial

from server.__main__ import main
from server.engine import service
from server.engine.executor import Executor

from .child_bodies import held_forever

if __name__ == "__main__":
    service.Executor = partial(Executor, child_body=held_forever)  # type: ignore[misc]
    sys.exit(main(["worker"]))
