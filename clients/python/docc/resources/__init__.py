"""The resources of a client, written once for the sync and the async client."""

from docc.resources.access import Keys, OAuthClients, Workspaces
from docc.resources.base import Resource, listing, operation
from docc.resources.datasets import Datasets
from docc.resources.events import Events
from docc.resources.jobs import Jobs
from docc.resources.pipelines import Pipelines
from docc.resources.quality import Quality, QualityResults, QualityRules

__all__ = ["Datasets", "Events", "Jobs", "Keys", "OAuthClients", "Pipelines", "Quality", "QualityResults",
           "QualityRules", "Resource", "Workspaces", "listing", "operation"]
