"""GlueFailureAlerts: Glue job runs and crawls that fail, sent to the alert dispatcher.

Glue reports every job run's end on the default event bus ("Glue Job State Change") and every
crawl's ("Glue Crawler State Change"). Two rules pick the named jobs' runs that end FAILED, TIMEOUT
or STOPPED and the named crawlers' crawls that end Failed, and publish a critical
``AlertRequest`` (``symphony/alerts.py``) to ``topic``: the alert intake topic, which delivers raw
into the dispatcher's request queue, so these alerts get the dispatcher's runbook link, SMS limit
and escalation like every other. The request id is the event's id (a redelivered event is sent
once). The Glue error text is not put in the request: EventBridge does not escape what it
substitutes, and a quote in it would break the JSON; the body names the command that shows it.
Delivery retries (``retry_attempts`` within ``max_event_age``); what still cannot be delivered
lands in an alarmed dead-letter queue encrypted with ``encryption_key``.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from stacks.components.dead_letter_queue import DeadLetterQueue

GLUE_SOURCE = "aws.glue"
JOB_STATE_CHANGE = "Glue Job State Change"
CRAWLER_STATE_CHANGE = "Glue Crawler State Change"
FAILED_JOB_STATES = ("FAILED", "TIMEOUT", "STOPPED")
FAILED_CRAWL_STATES = ("Failed",)


class GlueFailureAlerts(Construct):
    """Exposes ``job_rule``, ``crawler_rule`` (None without crawlers), ``publisher`` (the role
    EventBridge publishes with) and ``dead_letters``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job_names: Sequence[str],
        crawler_names: Sequence[str],
        topic: sns.ITopic,
        alarm_topic: sns.ITopic,
        encryption_key: kms.IKey,
        retry_attempts: int = 8,
        max_event_age: Duration = Duration.hours(6),
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, construct_id)
        if not job_names:
            raise ValueError("GlueFailureAlerts: name at least one job")
        encryption_key.grant(
            iam.ServicePrincipal("events.amazonaws.com"), "kms:GenerateDataKey", "kms:Decrypt"
        )
        self.dead_letters = DeadLetterQueue(
            self,
            "DeadLetters",
            alarm_topic=alarm_topic,
            purpose="Glue failure alerts EventBridge could not publish",
            encryption_key=encryption_key,
            removal_policy=removal_policy,
        )

        # EventBridge publishes as this role (granted sns:Publish and the topic key's data-key
        # actions), so the topic's policy and key policy, in the alerting stack, stay untouched.
        self.publisher = iam.Role(
            self,
            "PublisherRole",
            description="EventBridge publishes Glue failure alerts to the alert intake topic",
            assumed_by=iam.PrincipalWithConditions(
                iam.ServicePrincipal("events.amazonaws.com"),
                {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
        )
        topic.grant_publish(self.publisher)
        NagSuppressions.add_resource_suppressions(
            self.publisher,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="grant_publish on the KMS-encrypted alert intake topic writes this "
                    "data-key action family, on that topic's key only (a named resource, not '*').",
                    applies_to=["Action::kms:GenerateDataKey*"],
                ),
                NagPackSuppression(
                    id="PCI.DSS.321-IAMNoInlinePolicy",
                    reason="The inline policy holds only sns:Publish on the alert intake topic "
                    "and its key's data-key actions; a managed policy would invite reuse.",
                ),
            ],
            apply_to_children=True,
        )

        def target(request: dict[str, str]) -> targets.SnsTopic:
            return targets.SnsTopic(
                topic,
                message=events.RuleTargetInput.from_object(
                    {
                        "request_id": f"glue-{events.EventField.from_path('$.id')}",
                        "tier": "critical",
                        "region": "all",
                        "occurred_at": events.EventField.from_path("$.time"),
                        **request,
                    }
                ),
                authorize_using_role=True,
                role=self.publisher,
                dead_letter_queue=self.dead_letters.queue,
                retry_attempts=retry_attempts,
                max_event_age=max_event_age,
            )

        detail = events.EventField.from_path
        self.job_rule = events.Rule(
            self,
            "JobFailed",
            description="A Glue job run of the analytics jobs failed, timed out or was stopped",
            event_pattern=events.EventPattern(
                source=[GLUE_SOURCE],
                detail_type=[JOB_STATE_CHANGE],
                detail={"jobName": list(job_names), "state": list(FAILED_JOB_STATES)},
            ),
            targets=[
                target(
                    {
                        "kind": "glue_job_failed",
                        "subject": f"Glue job {detail('$.detail.jobName')} ended "
                        f"{detail('$.detail.state')}",
                        "body": f"Glue job {detail('$.detail.jobName')}, run "
                        f"{detail('$.detail.jobRunId')}, ended {detail('$.detail.state')}. "
                        "Its error: aws glue get-job-run --job-name "
                        f"{detail('$.detail.jobName')} --run-id {detail('$.detail.jobRunId')} "
                        "--query JobRun.ErrorMessage",
                    }
                )
            ],
        )
        self.crawler_rule: events.Rule | None = None
        if crawler_names:
            self.crawler_rule = events.Rule(
                self,
                "CrawlerFailed",
                description="A crawl of the analytics crawlers failed",
                event_pattern=events.EventPattern(
                    source=[GLUE_SOURCE],
                    detail_type=[CRAWLER_STATE_CHANGE],
                    detail={
                        "crawlerName": list(crawler_names),
                        "state": list(FAILED_CRAWL_STATES),
                    },
                ),
                targets=[
                    target(
                        {
                            "kind": "glue_crawler_failed",
                            "subject": f"Glue crawler {detail('$.detail.crawlerName')} failed",
                            "body": f"Glue crawler {detail('$.detail.crawlerName')} failed. "
                            "Its last crawl: aws glue get-crawler --name "
                            f"{detail('$.detail.crawlerName')} --query Crawler.LastCrawl",
                        }
                    )
                ],
            )
