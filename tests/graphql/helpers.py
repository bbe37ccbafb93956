"""One helper per GraphQL operation; each test overrides only what it is about."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.examples import CREATE_DATASET

DATASET_FIELDS = """
    id name description status tags revision schemaVersion compatibility qualityScore lastProfiled
    createdAt updatedAt
    source { type connection table path format }
    fields { name type nullable sensitive }
"""
ERROR_FIELDS = "__typename ... on Error { code message }"
VALIDATION = "... on ValidationError { field reason }"
PRECONDITION = "... on PreconditionFailedError { expectedRevision currentRevision }"
INCOMPATIBLE = "... on SchemaIncompatibleError { details }"
NOT_FOUND = "... on NotFoundError { resource id }"

CREATE_DATASET_MUTATION = f"""
mutation Create($input: CreateDatasetInput!) {{
  createDataset(input: $input) {{
    {ERROR_FIELDS} {VALIDATION}
    ... on CreateDatasetSuccess {{ dataset {{ {DATASET_FIELDS} }} }}
  }}
}}"""

UPDATE_DATASET_MUTATION = f"""
mutation Update($id: ID!, $input: UpdateDatasetInput!, $expectedRevision: Int, $force: Boolean! = false) {{
  updateDataset(id: $id, input: $input, expectedRevision: $expectedRevision, force: $force) {{
    {ERROR_FIELDS} {VALIDATION} {PRECONDITION} {INCOMPATIBLE} {NOT_FOUND}
    ... on UpdateDatasetSuccess {{ dataset {{ {DATASET_FIELDS} }} }}
  }}
}}"""

DELETE_DATASET_MUTATION = f"""
mutation Delete($id: ID!, $expectedRevision: Int) {{
  deleteDataset(id: $id, expectedRevision: $expectedRevision) {{
    {ERROR_FIELDS} {PRECONDITION} {NOT_FOUND}
    ... on DeleteDatasetSuccess {{ deletedId }}
  }}
}}"""

UPDATE_SCHEMA_MUTATION = f"""
mutation UpdateSchema($id: ID!, $schema: SchemaInput!, $mode: CompatibilityMode, $force: Boolean! = false) {{
  updateDatasetSchema(datasetId: $id, schema: $schema, compatibility: $mode, force: $force) {{
    {ERROR_FIELDS} {VALIDATION} {PRECONDITION} {INCOMPATIBLE} {NOT_FOUND}
    ... on UpdateDatasetSchemaSuccess {{
      version {{ version forced fields {{ name type nullable }} }}
      report {{ compatible changes {{ change field breaksBackward breaksForward }} }}
    }}
  }}
}}"""

VALIDATE_SCHEMA_MUTATION = f"""
mutation ValidateSchema($id: ID!, $schema: SchemaInput!, $mode: CompatibilityMode) {{
  validateDatasetSchema(datasetId: $id, schema: $schema, compatibility: $mode) {{
    {ERROR_FIELDS} {VALIDATION} {NOT_FOUND}
    ... on ValidateDatasetSchemaSuccess {{
      report {{ compatibility compatible currentVersion violations
                changes {{ change field old new breaksBackward breaksForward reason }} }}
    }}
  }}
}}"""

DATASET_QUERY = f"""
query One($id: ID!) {{
  dataset(id: $id) {{ {DATASET_FIELDS} schemaHistory(first: 10) {{ totalCount nodes {{ version }} }} }}
}}"""

DATASETS_QUERY = """
query Many($first: Int! = 20, $after: String, $filter: DatasetFilter) {
  datasets(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id name tags } }
  }
}"""


def dataset_input(**overrides: Any) -> dict[str, Any]:
    """The reference's dataset as a CreateDatasetInput (enums in GraphQL spelling)."""
    body = {
        "name": CREATE_DATASET["name"],
        "description": CREATE_DATASET["description"],
        "source": {**CREATE_DATASET["source"], "type": "DATABASE"},
        "schema": {"fields": [{**f, "type": f["type"].upper()} for f in CREATE_DATASET["schema"]["fields"]]},
        "tags": CREATE_DATASET["tags"],
    }
    body.update(overrides)
    return body


def schema_input(*specs: tuple[str, str, bool]) -> dict[str, Any]:
    return {"fields": [{"name": n, "type": t.upper(), "nullable": nullable} for n, t, nullable in specs]}


async def gql(client, query: str, variables: dict[str, Any] | None = None,
              headers: dict[str, str] | None = None) -> dict[str, Any]:
    """POST a GraphQL operation and return the decoded body."""
    resp = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def create_dataset(client, **overrides: Any) -> dict[str, Any]:
    body = await gql(client, CREATE_DATASET_MUTATION, {"input": dataset_input(**overrides)})
    return body["data"]["createDataset"]


JOB_STATUS_QUERY = "query ($id: ID!) { job(id: $id) { status } }"


async def wait_job(client, job_id: str, attempts: int = 400) -> str:
    """Poll `job(id:)` until the job ends (a bounded wait: fails instead of hanging); its final status."""
    status = None
    for _ in range(attempts):
        status = (await gql(client, JOB_STATUS_QUERY, {"id": job_id}))["data"]["job"]["status"]
        if status in {"SUCCEEDED", "FAILED", "CANCELLED"}:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish; status {status}")
