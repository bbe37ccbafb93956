"""The DOCC data plane: validates and runs the data steps of pipelines on real data with Polars.

Pure Python and Polars: no web framework and no ORM here. See docs/dataplane.md for the config reference.
"""

from .connections import Connection, mask_connection, parse_connection
from .errors import Cancelled, DataPlaneConfigError, DataPlaneError, StepFailed
from .graph import referenced_dataset_ids, validate_steps
from .paths import check_path, file_roots, set_file_roots
from .resolving import MappingResolver
from .runner import Resolver, RunContext, RunResult, StepStats, run_pipeline
from .sources import validate_source
from .types import polars_dtype
from .validation import validate_step

__all__ = [
    "Cancelled",
    "Connection",
    "DataPlaneConfigError",
    "DataPlaneError",
    "MappingResolver",
    "Resolver",
    "RunContext",
    "RunResult",
    "StepFailed",
    "StepStats",
    "check_path",
    "file_roots",
    "mask_connection",
    "parse_connection",
    "polars_dtype",
    "referenced_dataset_ids",
    "run_pipeline",
    "set_file_roots",
    "validate_source",
    "validate_step",
    "validate_steps",
]
