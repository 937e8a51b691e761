"""What the integration tests create inside ``mock_aws()`` again and again: tables keyed by
strings, buckets in the stores' region, a queue to read what was sent."""

from __future__ import annotations

from typing import Any, Final

import boto3

REGION: Final = "af-south-1"


def create_table(name: str, partition: str, sort: str | None = None, **options: Any) -> None:
    """An on-demand DynamoDB table keyed by ``partition`` (and ``sort``), both strings;
    ``options`` go to ``create_table`` as they are (e.g. ``StreamSpecification``)."""
    keys = [(partition, "HASH")] + ([(sort, "RANGE")] if sort else [])
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
        BillingMode="PAY_PER_REQUEST",
        **options,
    )


def create_buckets(*names: str) -> None:
    """S3 buckets in :data:`REGION`."""
    s3 = boto3.client("s3")
    for name in names:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})


def create_queue(name: str) -> tuple[str, str]:
    """An SQS queue's URL and ARN."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, attributes["Attributes"]["QueueArn"]
