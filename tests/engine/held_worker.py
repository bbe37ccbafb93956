"""`docc-server worker` whose jobs stop for good at one point, so a test can kill it mid-job.

Run as `python -m tests.engine.held_worker [body]`: `body` names a function of child_bodies
(`held_forever`, inside the cleaner step, by default); everything else is the real worker.
"""

from __future__ import annotations

import sys
from functools import partial

from server.__main__ import main
from server.engine import service
from server.engine.executor import Executor

from . import child_bodies

if __name__ == "__main__":
    body = getattr(child_bodies, sys.argv[1] if len(sys.argv) > 1 else "held_forever")
    service.Executor = partial(Executor, child_body=body)  # type: ignore[misc]
    sys.exit(main(["worker"]))
