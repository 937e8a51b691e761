"""format_regulatory_reports: the VAT summary and the cash reconciliation, byte for byte."""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from glue_jobs import format_regulatory_reports as job
from simulator.glue import LocalSparkRunner

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT_ROOT / "glue_jobs" / "format_regulatory_reports.py"
FIXTURES = Path(__file__).parent / "fixtures" / "reports"
TOTALS = FIXTURES / "daily_totals"
DECLARATIONS = FIXTURES / "declared_cash"
EXPECTED = FIXTURES / "expected"
REGION = "af-south-1"


def _run(output: Path, **extra: str) -> None:
    job.main(
        {
            "daily_totals_input": str(TOTALS),
            "declared_cash_input": str(DECLARATIONS),
            "reports_output": str(output),
            **extra,
        },
        None,
    )


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _lines(*texts: str) -> list[tuple[str, int, str]]:
    return [("part-0.json", number, text) for number, text in enumerate(texts, start=1)]


def _totals(**fields: Any) -> str:
    record = {
        "store_id": "ZA-0001",
        "region": "Gauteng",
        "business_date": "2026-11-27",
        "transactions": 1,
        "gross_cents": 11500,
        "refunds_cents": 0,
        "cash_cents": 1500,
        "card_cents": 10000,
        "cash_refunds_cents": 0,
        **fields,
    }
    return json.dumps(record)


# -- the reports ----------------------------------------------------------------------------------


def test_reports_match_the_reference_files_byte_for_byte(tmp_path: Path) -> None:
    _run(tmp_path)
    for name in (job.VAT_SUMMARY, job.CASH_RECONCILIATION):
        assert (tmp_path / name).read_bytes() == (EXPECTED / name).read_bytes(), name
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [job.VAT_SUMMARY, job.CASH_RECONCILIATION]
    )


def test_vat_summary_figures_checked_by_hand() -> None:
    rows = _rows((EXPECTED / job.VAT_SUMMARY).read_text(encoding="utf-8"))
    by_store = {(row["business_date"], row["store_id"]): row for row in rows}
    # R11,500.00 sold, R230.00 refunded: net R11,270.00 of which VAT is 15/115 = R1,470.00.
    gauteng = by_store[("2026-11-27", "ZA-0001")]
    assert (gauteng["net_sales_zar"], gauteng["vat_zar"]) == ("11270.00", "1470.00")
    assert gauteng["net_sales_excl_vat_zar"] == "9800.00"
    # R9,864.20 net: 986420 * 15 / 115 = 128663.478 cents -> R1,286.63 (rounded down).
    assert by_store[("2026-11-27", "ZA-0002")]["vat_zar"] == "1286.63"
    # R1,000.03 net: 100003 * 15 / 115 = 13043.87 cents -> R130.44 (rounded up).
    assert by_store[("2026-11-27", "ZA-0003")]["vat_zar"] == "130.44"
    # More refunded than sold: negative net, negative VAT.
    assert by_store[("2026-11-27", "ZA-0004")]["vat_zar"] == "-1.50"
    # The national row is the sum of the store rows of its date, and comes after them.
    national = rows[-1]
    assert (national["scope"], national["business_date"]) == ("national", "2026-11-27")
    assert national["vat_zar"] == "2885.57"  # 1470.00 + 1286.63 + 130.44 - 1.50
    assert national["transactions"] == "773"
    assert national["gross_sales_zar"] == "22391.57"
    assert [row["scope"] for row in rows] == ["store", "national"] + ["store"] * 4 + ["national"]


def test_cash_reconciliation_figures_checked_by_hand() -> None:
    rows = _rows((EXPECTED / job.CASH_RECONCILIATION).read_text(encoding="utf-8"))
    by_store = {(row["business_date"], row["store_id"]): row for row in rows}
    # R3,450.00 cash taken, R115.00 cash refunded: R3,335.00 expected and declared.
    assert by_store[("2026-11-27", "ZA-0001")]["expected_cash_zar"] == "3335.00"
    assert by_store[("2026-11-27", "ZA-0001")]["status"] == "BALANCED"
    assert by_store[("2026-11-27", "ZA-0001")]["flagged"] == "no"
    # R1,000.01 expected, R990.01 declared: R10.00 short.
    short = by_store[("2026-11-27", "ZA-0002")]
    assert (short["difference_zar"], short["status"]) == ("-10.00", "SHORT")
    assert short["flagged"] == "yes"
    # No declaration: flagged, with no declared amount or difference.
    missing = by_store[("2026-11-27", "ZA-0003")]
    assert (missing["declared_cash_zar"], missing["status"]) == ("", "NOT_DECLARED")
    # Cash declared by a store with no sales totals is kept, not dropped.
    assert by_store[("2026-11-27", "ZA-0005")]["difference_zar"] == "50.00"
    assert by_store[("2026-11-27", "ZA-0005")]["status"] == "OVER"


def test_a_tolerance_balances_differences_within_it(tmp_path: Path) -> None:
    _run(tmp_path, cash_tolerance_cents="40")
    rows = _rows((tmp_path / job.CASH_RECONCILIATION).read_text(encoding="utf-8"))
    by_store = {(row["business_date"], row["store_id"]): row for row in rows}
    assert by_store[("2026-11-26", "ZA-0001")]["difference_zar"] == "0.40"
    assert by_store[("2026-11-26", "ZA-0001")]["status"] == "BALANCED"
    assert by_store[("2026-11-27", "ZA-0002")]["status"] == "SHORT"


def test_without_declarations_every_store_is_not_declared(tmp_path: Path) -> None:
    job.main({"daily_totals_input": str(TOTALS), "reports_output": str(tmp_path)}, None)
    rows = _rows((tmp_path / job.CASH_RECONCILIATION).read_text(encoding="utf-8"))
    assert {row["status"] for row in rows} == {"NOT_DECLARED"}
    assert len(rows) == 5
    assert (tmp_path / job.VAT_SUMMARY).read_bytes() == (EXPECTED / job.VAT_SUMMARY).read_bytes()


# -- the arithmetic -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inclusive", "vat"),
    [(11500, 1500), (1127000, 147000), (986420, 128663), (100003, 13044), (4, 1), (1, 0)],
)
def test_vat_is_15_115ths_of_the_inclusive_amount_rounded_to_the_cent(
    inclusive: int, vat: int
) -> None:
    assert job.vat_in_cents(inclusive) == vat
    assert job.vat_in_cents(-inclusive) == -vat


def test_vat_rounding_is_half_up_as_decimal_does_it() -> None:
    for cents in range(-3000, 3000):
        exact = Decimal(cents) * 15 / 115
        assert job.vat_in_cents(cents) == int(exact.quantize(Decimal(1), ROUND_HALF_UP)), cents


@pytest.mark.parametrize(
    ("cents", "text"),
    [(0, "0.00"), (5, "0.05"), (-5, "-0.05"), (100, "1.00"), (123456, "1234.56"), (-150, "-1.50")],
)
def test_cents_are_shown_as_rand_with_two_decimals(cents: int, text: str) -> None:
    assert job.rand(cents) == text


# -- bad input fails the job, naming where --------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "part-0.json:1: not JSON"),
        ("[1, 2]", "expected a JSON object"),
        (_totals(gross_cents=True), "gross_cents must be a whole number"),
        (_totals(refunds_cents=-1), "refunds_cents must be a whole number >= 0"),
        (_totals(cash_cents=1.5), "cash_cents must be a whole number"),
        (_totals(region=""), "region must be a non-empty string"),
        (_totals(business_date="2026-11-31"), "business_date must be YYYY-MM-DD"),
        (_totals(business_date="20261127"), "business_date must be YYYY-MM-DD"),
        (_totals(card_cents=9999), "is not gross_cents 11500"),
        (_totals(refunds_cents=10, cash_refunds_cents=11), "is more than refunds_cents 10"),
    ],
)
def test_a_bad_totals_line_names_file_line_and_field(line: str, message: str) -> None:
    with pytest.raises(job.InvalidRecord, match=message):
        job.parse_daily_totals(_lines(line))


def test_a_store_twice_on_one_date_is_refused() -> None:
    with pytest.raises(job.InvalidRecord, match=r"part-0.json:2: ZA-0001 on 2026-11-27 again"):
        job.parse_daily_totals(_lines(_totals(), _totals()))


def test_a_second_declaration_of_a_store_is_refused() -> None:
    line = '{"store_id": "ZA-0001", "business_date": "2026-11-27", "declared_cash_cents": 5}'
    with pytest.raises(job.InvalidRecord, match="a second declaration of ZA-0001"):
        job.parse_declarations(_lines(line, line))


def test_no_totals_fails_the_job(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="aggregate_sales has not written this night"):
        job.main(
            {"daily_totals_input": str(tmp_path / "none"), "reports_output": str(tmp_path)}, None
        )


def test_a_tolerance_that_is_not_whole_cents_fails_the_job(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cash_tolerance_cents 'R1'"):
        _run(tmp_path, cash_tolerance_cents="R1")


# -- in Glue: S3 locations, the Glue entry, Python 3.9 --------------------------------------------


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in ("curated", "landing", "reports"):
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        for folder, bucket, prefix in (
            (TOTALS, "curated", "daily_totals/date=2026-11-27/"),
            (DECLARATIONS, "landing", "cash-declarations/date=2026-11-27/"),
        ):
            for path in sorted(folder.iterdir()):
                client.put_object(Bucket=bucket, Key=prefix + path.name, Body=path.read_bytes())
        yield client


def _s3_arguments() -> dict[str, str]:
    return {
        "daily_totals_input": "s3://curated/daily_totals/date=2026-11-27",
        "declared_cash_input": "s3://landing/cash-declarations/date=2026-11-27/",
        "reports_output": "s3://reports/regulatory/date=2026-11-27/",
    }


def _report_objects(s3: Any) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket="reports").get("Contents", [])
    return {
        item["Key"]: s3.get_object(Bucket="reports", Key=item["Key"])["Body"].read()
        for item in listed
    }


def test_in_glue_it_reads_and_writes_s3_prefixes(s3: Any) -> None:
    job.main(_s3_arguments(), None)
    assert _report_objects(s3) == {
        f"regulatory/date=2026-11-27/{name}": (EXPECTED / name).read_bytes()
        for name in (job.VAT_SUMMARY, job.CASH_RECONCILIATION)
    }


def test_the_simulators_runner_runs_it_without_spark(s3: Any, tmp_path: Path) -> None:
    runner = LocalSparkRunner(tmp_path, spark_factory=lambda: None, region_name=REGION)
    arguments = {f"--{name}": value for name, value in _s3_arguments().items()}
    result = runner.run("format_regulatory_reports", SCRIPT, arguments)
    assert result.state == "SUCCEEDED", result.error_message
    assert _report_objects(s3) == {
        f"regulatory/date=2026-11-27/{name}": (EXPECTED / name).read_bytes()
        for name in (job.VAT_SUMMARY, job.CASH_RECONCILIATION)
    }


def test_the_glue_entry_picks_the_optional_arguments_out_of_argv() -> None:
    argv = ["script.py", "--JOB_NAME", "j", "--declared_cash_input", "s3://l/c/", "--x", "y"]
    assert job._optional_arguments(argv, ["declared_cash_input", "cash_tolerance_cents"]) == {
        "declared_cash_input": "s3://l/c/"
    }


def test_the_job_is_python_3_9_syntax() -> None:
    source = SCRIPT.read_text(encoding="utf-8")
    ast.parse(source, feature_version=(3, 9))
    tree = ast.parse(source)
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.Match)]


def _python_3_9() -> str | None:
    candidates = [os.environ.get("PYTHON39"), shutil.which("python3.9")]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.9*/bin/python3.9"))
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 9))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.stdout.strip() == "True":
            return candidate
    return None


def test_the_job_runs_under_python_3_9_as_glue_python_shell_does(tmp_path: Path) -> None:
    python = _python_3_9()
    if python is None:
        pytest.skip("no Python 3.9 interpreter here (set PYTHON39 to one)")
    program = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('job', {str(SCRIPT)!r})\n"
        "module = sys.modules['job'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "module.main({'daily_totals_input': sys.argv[1], 'declared_cash_input': sys.argv[2],\n"
        "             'reports_output': sys.argv[3]}, None)\n"
    )
    result = subprocess.run(
        [python, "-I", "-c", program, str(TOTALS), str(DECLARATIONS), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for name in (job.VAT_SUMMARY, job.CASH_RECONCILIATION):
        assert (tmp_path / name).read_bytes() == (EXPECTED / name).read_bytes(), name
