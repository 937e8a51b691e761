"""Settings every test shares. The in-process synth skips CDK's built-in validator (~3.5 s per
app, see shared/notes/toolchain.md); tests/infra/test_cli_synth.py runs the real CLI with it on.
The variable must be set before aws_cdk starts its jsii kernel, hence here."""

import os

os.environ.setdefault("CDK_VALIDATION", "false")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
