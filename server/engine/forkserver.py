"""The forkserver that job processes are forked from: Polars and the data plane imported once, no settings.

Why not plain `multiprocessing.get_context("forkserver").Process`: on Python 3.11 a child of the
forkserver re-runs the parent's entry script (`docc-server`, a bench script) as `__mp_main__`, which
imports the whole server again for every job (hundreds of milliseconds), although the job's target
lives in server.engine.child and needs nothing from `__main__`. `JobProcess` starts the child the
same way but without that step, so a job starts in tens of milliseconds.
"""

from __future__ import annotations

import io
import os
import threading
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from multiprocessing.context import ForkServerProcess, set_spawning_popen
from typing import Any

# Imported in the forkserver before it forks anything: the child then starts with them in memory.
PRELOAD = ["server.engine.child"]
_lock = threading.Lock()


class _JobPopen(popen_forkserver.Popen):
    """The forkserver launch of the standard library, minus the re-run of the parent's main module."""

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, data_w = forkserver.connect_to_new_process(self._fds)
        # The child learns that its parent is gone when this last copy of the write end closes.
        parent_w = os.dup(data_w)
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))
        with open(data_w, "wb", closefd=True) as data:
            data.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class JobProcess(ForkServerProcess):
    """A process forked from the job forkserver."""

    @staticmethod
    def _Popen(process_obj: Any) -> _JobPopen:
        return _JobPopen(process_obj)


def start_forkserver() -> None:
    """Start the forkserver if it is not running (it imports in the background), without the DOCC_* variables.

    A process forked from it inherits its environment block as it was at exec time, visible in
    /proc/self/environ whatever the child deletes later: so the server's settings (keys, database URL)
    are kept out of the forkserver from the start. Settings were read at start-up; nothing else reads them.
    """
    with _lock:
        forkserver.set_forkserver_preload(PRELOAD)
        hidden = {name: os.environ.pop(name) for name in list(os.environ) if name.startswith("DOCC_")}
        try:
            forkserver.ensure_running()
        finally:
            os.environ.update(hidden)
