"""What the Glue tests need on the machine: pyspark 3.5 with numpy 1 and Java 17 (no skipping)."""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import shutil
import subprocess

INSTALL = "run `make install` (requirements-dev.txt pins pyspark; Makefile installs Java 17)"


def test_pyspark_3_5_is_installed_as_glue_5_runs_it() -> None:
    try:
        importlib.import_module("pyspark")
    except ImportError as error:
        raise AssertionError(f"pyspark cannot be imported ({error}): {INSTALL}") from None
    assert importlib.metadata.version("pyspark").startswith("3.5."), INSTALL


def test_numpy_is_below_2_as_pyspark_3_5_needs() -> None:
    assert int(importlib.metadata.version("numpy").split(".")[0]) < 2, INSTALL


def test_java_17_is_on_the_path() -> None:
    java = shutil.which("java")
    assert java is not None, f"java is not on PATH: {INSTALL}"
    shown = subprocess.run([java, "-version"], capture_output=True, text=True, check=True).stderr
    assert re.search(r'version "17\.', shown), f"expected Java 17, found: {shown.splitlines()[0]}"
