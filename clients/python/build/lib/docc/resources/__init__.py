"""The resources of a client, written once for the sync and the async client."""

from docc.resources.access import Keys, OAuthClients, Workspaces
from docc.resources.base import Resource, listing, operation
from docc.resources.datasets import Datasets
from docc.resources.jobs import Jobs
from docc.resources.pipelines import Pipelines

__all__ = ["Datasets", "Jobs", "Keys", "OAuthClients", "Pipelines", "Resource", "Workspaces", "listing",
           "operation"]
