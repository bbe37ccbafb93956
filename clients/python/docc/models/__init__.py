"""Typed models of every resource of the DOCC REST API."""

from docc.models.access import (
                                ApiKey,
                                ClientCreate,
                                ClientSecret,
                                CreatedApiKey,
                                CreatedClientSecret,
                                CreatedOAuthClient,
                                KeyCreate,
                                KeyRotate,
                                OAuthClient,
                                SecretCreate,
                                Workspace,
                                WorkspaceCreate,
)
from docc.models.common import Input, Model, Page, PageLinks, PageMeta
from docc.models.datasets import (
                                CompatibilityReport,
                                Dataset,
                                DatasetAck,
                                DatasetCreate,
                                DatasetSchema,
                                DatasetUpdate,
                                SchemaChange,
                                SchemaField,
                                SchemaVersion,
                                SchemaVersionAck,
)
from docc.models.events import JobEvent
from docc.models.jobs import FINISHED, Job, JobAck, JobAttempt, JobStep, LogLine, LogPage
from docc.models.pipelines import (
                                Pipeline,
                                PipelineAck,
                                PipelineCreate,
                                PipelineRetries,
                                PipelineRetriesSpec,
                                PipelineUpdate,
                                PipelineVersion,
                                Schedule,
                                ScheduleAck,
                                ScheduleSpec,
)
from docc.models.quality import (
                                ColumnProfile,
                                DatasetProfile,
                                QualityResult,
                                QualityResultAck,
                                QualityRule,
                                QualityRuleAck,
                                QualityRuleCreate,
                                QualityRuleUpdate,
                                RuleSchedule,
                                RuleScheduleSpec,
)

__all__ = [
    "FINISHED", "ApiKey", "ClientCreate", "ClientSecret", "ColumnProfile", "CompatibilityReport", "CreatedApiKey",
    "CreatedClientSecret", "CreatedOAuthClient", "Dataset", "DatasetAck", "DatasetCreate", "DatasetProfile",
    "DatasetSchema", "DatasetUpdate", "Input", "Job", "JobAck", "JobAttempt", "JobEvent", "JobStep", "KeyCreate",
    "KeyRotate", "LogLine", "LogPage", "Model", "OAuthClient", "Page", "PageLinks", "PageMeta", "Pipeline",
    "PipelineAck", "PipelineCreate", "PipelineRetries", "PipelineRetriesSpec", "PipelineUpdate", "PipelineVersion",
    "QualityResult", "QualityResultAck", "QualityRule", "QualityRuleAck", "QualityRuleCreate", "QualityRuleUpdate",
    "RuleSchedule", "RuleScheduleSpec", "Schedule", "ScheduleAck", "ScheduleSpec", "SchemaChange", "SchemaField",
    "SchemaVersion", "SchemaVersionAck", "SecretCreate", "Workspace", "WorkspaceCreate",
]
