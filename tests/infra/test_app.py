"""The synthesized app of each environment: what its configuration says it should be."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from stacks.config import ALERT_TIERS, load_environment
from tests.infra.conftest import Synthesized


def _subscriptions(app: Synthesized, stack: str) -> dict[str, dict]:
    found = app.template(stack).find_resources("AWS::SNS::Subscription")
    return {
        resource["Properties"]["Endpoint"]: resource["Properties"]
        for resource in found.values()
        if isinstance(resource["Properties"]["Endpoint"], str)  # not the intake's queue
    }


def test_stacks_are_named_for_their_environment(
    dev_app: Synthesized, prod_app: Synthesized
) -> None:
    for app, name in ((dev_app, "dev"), (prod_app, "prod")):
        assert sorted(app.templates) == [
            f"Symphony-{name}-{concern}"
            for concern in (
                "Alerting",
                "Analytics",
                "Data",
                "Ingestion",
                "Monitoring",
                "Night",
                "Planning",
                "Realtime",
                "Telemetry",
            )
        ]


def test_stacks_are_environment_agnostic_when_no_account_is_configured(
    dev_app: Synthesized,
) -> None:
    for stack in dev_app.assembly.stacks_recursively:
        assert stack.environment.account == "unknown-account"
        # Only the fridge telemetry lives elsewhere: IoT Core is not offered in af-south-1.
        expected = "eu-west-1" if stack.stack_name.endswith("-Telemetry") else "af-south-1"
        assert stack.environment.region == expected, stack.stack_name


@pytest.mark.parametrize(("environment", "policy"), [("dev", "Delete"), ("prod", "Retain")])
def test_removal_policy_follows_the_environment(
    request: pytest.FixtureRequest, environment: str, policy: str
) -> None:
    app: Synthesized = request.getfixturevalue(f"{environment}_app")
    template = app.template(f"Symphony-{environment}-Alerting")
    for resource_type in ("AWS::KMS::Key", "AWS::SQS::Queue"):
        template.all_resources(resource_type, {"DeletionPolicy": policy})


def test_one_kms_encrypted_tls_only_topic_per_tier(dev_app: Synthesized) -> None:
    template = dev_app.template("Symphony-dev-Alerting")
    # A topic per tier, per escalation level, and the alarm intake.
    levels = len(load_environment("dev").alerting.escalation)
    template.resource_count_is("AWS::SNS::Topic", len(ALERT_TIERS) + levels + 1)
    template.all_resources_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.all_resources_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_every_configured_email_is_subscribed_to_its_tier_and_no_sms_is(
    prod_app: Synthesized,
) -> None:
    """SMS go through the dispatcher (at most sms_per_hour each): a topic SMS would bypass it."""
    config = load_environment("prod")
    expected = sorted(
        [
            subscriber.email
            for tier in ALERT_TIERS
            for subscriber in config.alerting.subscribers(tier)
            if subscriber.email
        ]
        + [
            person.email
            for level in config.alerting.escalation
            for person in level.subscribers
            if person.email
        ]
    )
    found = prod_app.template("Symphony-prod-Alerting").find_resources("AWS::SNS::Subscription")
    emails = [r["Properties"] for r in found.values() if r["Properties"]["Protocol"] == "email"]
    assert sorted(p["Endpoint"] for p in emails) == expected
    assert {r["Properties"]["Protocol"] for r in found.values()} == {"email", "sqs"}


def test_regional_manager_receives_their_region_only(prod_app: Synthesized) -> None:
    subscriptions = _subscriptions(prod_app, "Symphony-prod-Alerting")
    assert subscriptions["gauteng.ops@example.com"]["FilterPolicy"] == {"region": ["Gauteng"]}
    assert "+27820000010" not in subscriptions, "texted by the dispatcher, not the topic"


def test_store_manager_receives_their_store_only(prod_app: Synthesized) -> None:
    subscriptions = _subscriptions(prod_app, "Symphony-prod-Alerting")
    assert subscriptions["store0047@example.com"]["FilterPolicy"] == {"store": ["ZA-0047"]}


def test_national_subscriber_receives_every_alert(prod_app: Synthesized) -> None:
    subscriptions = _subscriptions(prod_app, "Symphony-prod-Alerting")
    assert "FilterPolicy" not in subscriptions["data-oncall@example.com"]


def test_every_subscription_keeps_failed_deliveries(prod_app: Synthesized) -> None:
    subscriptions = _subscriptions(prod_app, "Symphony-prod-Alerting")
    assert all("deadLetterTargetArn" in s["RedrivePolicy"] for s in subscriptions.values())


def test_resources_are_tagged_with_project_and_environment(prod_app: Synthesized) -> None:
    prod_app.template("Symphony-prod-Alerting").has_resource_properties(
        "AWS::SNS::Topic",
        {
            "Tags": Match.array_with(
                [{"Key": "environment", "Value": "prod"}, {"Key": "project", "Value": "symphony"}]
            )
        },
    )


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_each_environment_has_one_schedule_group_that_its_schedules_join(
    request: pytest.FixtureRequest, environment: str
) -> None:
    app: Synthesized = request.getfixturevalue(f"{environment}_app")
    groups = {
        name: [
            resource["Properties"]["Name"]
            for resource in template["Resources"].values()
            if resource["Type"] == "AWS::Scheduler::ScheduleGroup"
        ]
        for name, template in app.templates.items()
    }
    assert {name: found for name, found in groups.items() if found} == {
        f"Symphony-{environment}-Alerting": [f"symphony-{environment}"]
    }
    scheduled = 0
    for name, template in app.templates.items():
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::Scheduler::Schedule":
                continue
            scheduled += 1
            assert resource["Properties"]["GroupName"] == f"symphony-{environment}", name
            if name == f"Symphony-{environment}-Alerting":
                continue  # the alert dispatcher's flush, in the group's own stack
            stack = app.assembly.get_stack_by_name(name)
            alerting = app.assembly.get_stack_by_name(f"Symphony-{environment}-Alerting")
            assert alerting.id in {d.id for d in stack.dependencies}
    assert scheduled >= 1
