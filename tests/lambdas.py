"""Load one handler folder's modules the way Lambda does: the folder is the import root.

Every folder has ``handler.py``, ``logic.py``, ``models.py`` (and maybe ``adapters.py``), so the
modules of the previous folder are dropped from ``sys.modules`` before the next is loaded.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from unittest import mock

LAMBDAS = Path(__file__).resolve().parents[1] / "lambdas"
HANDLER_MODULES = ("handler", "logic", "models", "adapters")


def load_lambda_module(
    folder: str, module: str = "handler", environment: Mapping[str, str] | None = None
) -> ModuleType:
    root = str(LAMBDAS / folder)
    for name in HANDLER_MODULES:
        sys.modules.pop(name, None)
    sys.path.insert(0, root)
    try:
        with mock.patch.dict(os.environ, dict(environment or {})):
            return importlib.import_module(module)
    finally:
        sys.path.remove(root)
        # The loaded modules keep their references to each other; the generic names must not
        # linger for the next folder (or the simulator's runtime) to trip over.
        for name in HANDLER_MODULES:
            sys.modules.pop(name, None)


class FakeLambdaContext:
    """The attributes of a Lambda context object that Powertools reads."""

    function_name = "test-function"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:af-south-1:123456789012:function:test-function"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
