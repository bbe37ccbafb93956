"""The DOCC data plane: validates and runs the data steps of pipelines on real data with Polars.

Pure Python and Polars: no web framework and no ORM here. What it may touch is a `Policy` passed in
explicitly (policy.py); see docs/dataplane.md for the config reference.
"""

from .connections import Connection, check_connection, mask_connection, parse_connection
from .context import Resolver, RunContext, RunResult, StepStats
from .errors import Cancelled, DataPlaneConfigError, DataPlaneError, StepFailed
from .fill_types import check_fill_values
from .graph import referenced_dataset_ids, validate_steps
from .masking import mask_secrets
from .paths import resolve_path
from .policy import PgIdentity, Policy, policy_from_settings, prepare_data_dir
from .recovery import settle_staged
from .resolving import MappingResolver
from .runner import execute_steps
from .sources import validate_source
from .types import polars_dtype
from .validation import validate_step

__all__ = [
    "Cancelled",
    "Connection",
    "DataPlaneConfigError",
    "DataPlaneError",
    "MappingResolver",
    "PgIdentity",
    "Policy",
    "Resolver",
    "RunContext",
    "RunResult",
    "StepFailed",
    "StepStats",
    "check_connection",
    "check_fill_values",
    "execute_steps",
    "mask_connection",
    "mask_secrets",
    "parse_connection",
    "polars_dtype",
    "policy_from_settings",
    "prepare_data_dir",
    "referenced_dataset_ids",
    "resolve_path",
    "settle_staged",
    "validate_source",
    "validate_step",
    "validate_steps",
]
