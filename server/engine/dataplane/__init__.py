"""The DOCC data plane: validates and runs the data steps of pipelines on real data with Polars.

Pure Python and Polars: no web framework and no ORM here. What it may touch is a `Policy` passed in
explicitly (policy.py); see docs/dataplane.md for the config reference.

Each export is imported from its module when first read (lazy.py): validating a step or a source
loads no Polars, running one does.
"""

from .lazy import lazy_exports

_EXPORTS = {
    "Connection": "connections", "check_connection": "connections", "mask_connection": "connections",
    "parse_connection": "connections",
    "Resolver": "context", "RunContext": "context", "RunResult": "context", "StepStats": "context",
    "Cancelled": "errors", "DataPlaneConfigError": "errors", "DataPlaneError": "errors", "StepFailed": "errors",
    "check_fill_values": "fill_types",
    "referenced_dataset_ids": "graph", "validate_steps": "graph",
    "mask_secrets": "masking",
    "resolve_path": "paths",
    "PgIdentity": "policy", "Policy": "policy", "policy_from_settings": "policy", "prepare_data_dir": "policy",
    "settle_staged": "recovery",
    "MappingResolver": "resolving",
    "execute_steps": "runner",
    "validate_source": "source_config",
    "polars_dtype": "types",
    "validate_step": "validation",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
