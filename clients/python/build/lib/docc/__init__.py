"""The DOCC Python SDK: `Client` (sync) and `AsyncClient` (asyncio) over the REST API."""

__version__ = "0.1.0"

from docc._core import RetryPolicy
from docc.client import AsyncClient, Client
from docc.errors import (
    Conflict,
    ConnectionFailed,
    DoccError,
    Forbidden,
    JobFailed,
    NotFound,
    OAuthError,
    PreconditionFailed,
    RateLimited,
    SchemaIncompatible,
    Unauthorized,
    ValidationError,
    WaitTimeout,
)

__all__ = [
    "AsyncClient", "Client", "Conflict", "ConnectionFailed", "DoccError", "Forbidden", "JobFailed", "NotFound",
    "OAuthError", "PreconditionFailed", "RateLimited", "RetryPolicy", "SchemaIncompatible", "Unauthorized",
    "ValidationError", "WaitTimeout", "__version__",
]
