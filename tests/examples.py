"""Request bodies from the DOCC reference, shared by the tests."""

from __future__ import annotations

import copy
from typing import Any

CREATE_DATASET: dict[str, Any] = {
    "name": "customer_data",
    "description": "Customer information dataset",
    "source": {
        "type": "database",
        "connection": "postgresql://user:pass@host:5432/db",
        "table": "customers",
    },
    "schema": {
        "fields": [
            {"name": "id", "type": "integer", "nullable": False},
            {"name": "name", "type": "string", "nullable": False},
            {"name": "email", "type": "string", "nullable": True},
        ]
    },
    "tags": ["customer", "pii"],
}


def dataset_body(**overrides: Any) -> dict[str, Any]:
    """The reference's Create Dataset body with some keys replaced."""
    body = copy.deepcopy(CREATE_DATASET)
    body.update(overrides)
    return body


def fields(*specs: tuple[str, str, bool]) -> dict[str, Any]:
    """A schema document from (name, type, nullable) triples."""
    return {"fields": [{"name": n, "type": t, "nullable": nullable} for n, t, nullable in specs]}

# The reference's "Create Quality Rule" example, word for word but for the dataset it names.
CREATE_QUALITY_RULE: dict[str, Any] = {
    "name": "email_format_check",
    "description": "Validate email format in customer data",
    "dataset_id": "ds_123456789",
    "rule_type": "regex_match",
    "config": {
        "column": "email",
        "pattern": "^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$",
        "threshold": 0.95,
    },
    "severity": "warning",
    "enabled": True,
}
