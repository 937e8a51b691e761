"""symphony.tables: one Table per resource and name, on the resource that made it."""

from __future__ import annotations

import boto3

from symphony.tables import cached_table


def test_a_table_is_made_once_per_resource_and_name() -> None:
    resource = boto3.resource("dynamodb", region_name="af-south-1")
    first = cached_table(resource, "submissions")
    assert cached_table(resource, "submissions") is first
    assert first.name == "submissions"
    other = cached_table(resource, "night")
    assert other is not first
    assert other.name == "night"
    assert other.meta.client is resource.meta.client


def test_a_new_resource_gets_new_tables() -> None:
    kept = cached_table(boto3.resource("dynamodb", region_name="af-south-1"), "submissions")
    fresh = boto3.resource("dynamodb", region_name="eu-west-1")
    table = cached_table(fresh, "submissions")
    assert table is not kept
    assert table.meta.client is fresh.meta.client
    assert table.meta.client.meta.region_name == "eu-west-1"
