"""The synth baseline: a CDK app of one stack holding one S3 bucket.

``cdk synth --app ".venv/bin/python benchmarks/one_bucket_app.py"`` pays what every synth pays
(the CLI, the Python interpreter, ``import aws_cdk`` and the jsii kernel, CDK's validation of the
assembly) and almost nothing else, so the full app's synth is measured as a ratio to it.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App()
stack = cdk.Stack(app, "OneBucket")
s3.Bucket(stack, "Bucket")
app.synth()
