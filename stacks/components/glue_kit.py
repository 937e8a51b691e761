"""GlueKit: what every Glue job and crawler of a stack shares — the stack's key, one Glue security
configuration, the shared ``symphony`` package for ``--extra-py-files`` — and ``job()`` /
``crawler()`` that build an EtlJob or a LakeCrawler with them.

The security configuration encrypts what Glue writes to S3 with the lake's key (SSE-KMS, the key
the zone buckets use by default, so every reader of a zone needs that one key only), and the
CloudWatch logs and job bookmarks with the stack's own key.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    AssetHashType,
    BundlingOptions,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicy,
)
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.components.etl_job import EtlJob, JobEngine, LakeLocation
from stacks.components.lake_crawler import LakeCrawler
from stacks.components.log_retention import log_retention
from stacks.components.shared_code import SHARED_PACKAGE
from stacks.components.stack_key import StackKey

# What Glue needs of the shared package: the record contracts' Spark schemas. The generator and
# the CLI are laptop tools.
_IGNORED = ("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", "generator", "__main__.py")


@jsii.implements(ILocalBundling)
class _ZipPackage:
    """Copies a pure-Python package into ``<name>/`` of the asset, which CDK zips: the archive
    ``--extra-py-files`` takes, importable as ``import <name>``."""

    def __init__(self, package: Path) -> None:
        self._package = package

    def try_bundle(self, output_dir: str, *_args: Any, **_options: Any) -> bool:
        shutil.copytree(
            self._package,
            Path(output_dir) / self._package.name,
            ignore=shutil.ignore_patterns(*_IGNORED),
            dirs_exist_ok=True,
        )
        return True


class GlueKit(Construct):
    """Exposes ``key``, ``security_configuration`` and ``shared_package`` (glue.Code of the
    zipped ``symphony`` package, made on first use)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        purpose: str,
        lake_key: kms.IKey,
        log_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self._log_days = log_days
        self._removal_policy = removal_policy
        self._shared_package: glue.Code | None = None
        self.key = StackKey(
            self,
            "Key",
            description=f"Symphony {purpose}: Glue logs and bookmarks, dead letters",
            removal_policy=removal_policy,
        ).key
        self.security_configuration = glue.SecurityConfiguration(
            self,
            "SecurityConfiguration",
            s3_encryption=glue.S3Encryption.kms(kms_key=lake_key),
            cloud_watch_encryption=glue.CloudWatchEncryption.kms(kms_key=self.key),
            job_bookmarks_encryption=glue.JobBookmarksEncryption.client_side_kms(kms_key=self.key),
            removal_policy=removal_policy,
        )

    @property
    def shared_package(self) -> glue.Code:
        if self._shared_package is None:
            asset = s3_assets.Asset(
                self,
                "SharedPackage",
                path=str(SHARED_PACKAGE),
                # The hash of what was bundled: the Lambda layer bundles the same source
                # folder (as python/symphony), and a source hash would make the two one asset.
                asset_hash_type=AssetHashType.OUTPUT,
                exclude=list(_IGNORED),
                bundling=BundlingOptions(
                    # Never pulled: the local bundler always succeeds, so no Docker is needed.
                    image=DockerImage.from_registry("symphony/local-bundling-only"),
                    local=_ZipPackage(SHARED_PACKAGE),
                ),
            )
            self._shared_package = glue.Code.from_bucket(asset.bucket, asset.s3_object_key)
        return self._shared_package

    def job(
        self,
        scope: Construct,
        construct_id: str,
        *,
        script: Path,
        description: str,
        engine: JobEngine,
        reads: Mapping[str, LakeLocation],
        writes: Mapping[str, LakeLocation],
        timeout: Duration,
        max_retries: int,
        bookmarks: bool = False,
        arguments: Mapping[str, str] | None = None,
        workers: int = 2,
        worker_type: glue.WorkerType = glue.WorkerType.G_1X,
        uses_shared_package: bool = False,
    ) -> EtlJob:
        extra: Sequence[glue.Code] = (self.shared_package,) if uses_shared_package else ()
        return EtlJob(
            scope,
            construct_id,
            script=script,
            description=description,
            engine=engine,
            reads=reads,
            writes=writes,
            security_configuration=self.security_configuration,
            encryption_key=self.key,
            log_retention=log_retention(self._log_days),
            timeout=timeout,
            max_retries=max_retries,
            bookmarks=bookmarks,
            arguments=arguments,
            workers=workers,
            worker_type=worker_type,
            extra_python_files=extra,
            removal_policy=self._removal_policy,
        )

    def crawler(
        self,
        scope: Construct,
        construct_id: str,
        *,
        location: LakeLocation,
        database: glue.IDatabase,
        table_prefix: str,
        description: str,
    ) -> LakeCrawler:
        return LakeCrawler(
            scope,
            construct_id,
            location=location,
            database=database,
            table_prefix=table_prefix,
            description=description,
            security_configuration=self.security_configuration,
            encryption_key=self.key,
        )
