"""SharedCode: the ``symphony/`` package as a Lambda layer, built at synth without Docker.

The layer is the folder itself copied under ``python/symphony`` by a local bundler (a plain file
copy, no network); Lambda puts ``/opt/python`` on the import path. Third-party packages come from
the Powertools layer (which carries pydantic) and, where a handler needs more, from its own asset.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED_PACKAGE = PROJECT_ROOT / "symphony"
# The generator (and the CLI that runs it) are tools for a laptop, not for Lambda: they need
# orjson and rich, which the layer does not carry.
_IGNORED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", "generator", "__main__.py"
)


@jsii.implements(ILocalBundling)
class _CopyPackage:
    """Copies a pure-Python package into ``python/<name>`` of the asset."""

    def __init__(self, package: Path) -> None:
        self._package = package

    def try_bundle(self, output_dir: str, *_args: Any, **_options: Any) -> bool:
        shutil.copytree(
            self._package,
            Path(output_dir) / "python" / self._package.name,
            ignore=_IGNORED,
            dirs_exist_ok=True,
        )
        return True


class SharedCode(Construct):
    """Exposes ``layer``: the shared ``symphony`` package for every function of a stack."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: lambda_.Runtime,
        architecture: lambda_.Architecture,
        package: Path = SHARED_PACKAGE,
    ) -> None:
        super().__init__(scope, construct_id)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            description="Symphony shared package: record contracts, reference data",
            code=lambda_.Code.from_asset(
                str(package),
                asset_hash_type=AssetHashType.SOURCE,
                exclude=["__pycache__", "*.pyc", "generator", "__main__.py"],
                bundling=BundlingOptions(
                    # Never pulled: the local bundler always succeeds, so no Docker is needed.
                    image=DockerImage.from_registry("symphony/local-bundling-only"),
                    local=_CopyPackage(package),
                ),
            ),
            compatible_runtimes=[runtime],
            compatible_architectures=[architecture],
        )
