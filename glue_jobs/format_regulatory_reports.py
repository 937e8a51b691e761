"""Format the night's regulatory reports from the per-store daily totals: the VAT summary (per
store and national) and each store's cash reconciliation, as CSV in the reports zone.

A Glue **Python shell** job: Python 3.9 and the standard library (boto3 only for ``s3://``
locations), no Spark, so this file must stay valid Python 3.9 (a test runs it under 3.9 where one
is installed). ``main(args, spark)`` follows the entry contract of ``glue_jobs/README.md``;
``spark`` is unused. The input contract (what aggregate_sales writes) and the reports' columns
are in the README's section on this job.

Money is integer cents throughout; the reports show rand with two decimals. South African prices
include VAT at the standard rate of 15 %, so the VAT in an amount is ``amount * 15 / 115``,
rounded half-up (half away from zero) to the cent, once per store and business date on the net
sales (sales minus refunds). The national row adds up the store rows, so every column of the
report sums exactly; its VAT can differ from 15/115 of the national net by at most half a cent
per store. (With 15/115 = 3/23 an exact half cent never occurs, so any half rule gives the same
cents; half-up is stated so the rule is unambiguous.)
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

VAT_RATE_NUMERATOR = 15  # the standard rate, 15 %, in force since 1 April 2018
VAT_INCLUSIVE_DENOMINATOR = 100 + VAT_RATE_NUMERATOR

VAT_SUMMARY = "vat_summary.csv"
CASH_RECONCILIATION = "cash_reconciliation.csv"

VAT_COLUMNS = (
    "business_date",
    "scope",
    "store_id",
    "region",
    "transactions",
    "gross_sales_zar",
    "refunds_zar",
    "net_sales_zar",
    "vat_zar",
    "net_sales_excl_vat_zar",
)
CASH_COLUMNS = (
    "business_date",
    "store_id",
    "region",
    "cash_sales_zar",
    "cash_refunds_zar",
    "expected_cash_zar",
    "declared_cash_zar",
    "difference_zar",
    "status",
    "flagged",
)

# Cash reconciliation statuses; every status but BALANCED is flagged for follow-up.
BALANCED = "BALANCED"
SHORT = "SHORT"
OVER = "OVER"
NOT_DECLARED = "NOT_DECLARED"


class InvalidRecord(ValueError):
    """An input line that breaks its contract; the message names the file, line and field."""


@dataclass(frozen=True)
class DailyTotals:
    """One store's totals of one business date, as aggregate_sales writes them."""

    store_id: str
    region: str
    business_date: str
    transactions: int
    gross_cents: int
    refunds_cents: int
    cash_cents: int
    card_cents: int
    cash_refunds_cents: int

    @property
    def net_cents(self) -> int:
        return self.gross_cents - self.refunds_cents

    @property
    def expected_cash_cents(self) -> int:
        return self.cash_cents - self.cash_refunds_cents


@dataclass(frozen=True)
class CashDeclaration:
    """The cash a store counted and declared for one business date."""

    store_id: str
    business_date: str
    declared_cash_cents: int


# -- arithmetic -----------------------------------------------------------------------------------


def vat_in_cents(vat_inclusive_cents: int) -> int:
    """The VAT contained in a VAT-inclusive amount: amount * 15/115, rounded half-up (away from
    zero) to the cent; a negative amount (more refunds than sales) gives negative VAT."""
    quotient, remainder = divmod(
        abs(vat_inclusive_cents) * VAT_RATE_NUMERATOR, VAT_INCLUSIVE_DENOMINATOR
    )
    if 2 * remainder >= VAT_INCLUSIVE_DENOMINATOR:
        quotient += 1
    return -quotient if vat_inclusive_cents < 0 else quotient


def rand(cents: int) -> str:
    """Cents as rand with two decimals: ``123456`` -> ``1234.56``, ``-5`` -> ``-0.05``."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


# -- the reports ----------------------------------------------------------------------------------


def vat_summary(totals: Iterable[DailyTotals]) -> list[dict[str, str]]:
    """Per business date: one row per store (by store id), then the national row."""
    rows: list[dict[str, str]] = []
    by_date: dict[str, list[DailyTotals]] = {}
    for record in totals:
        by_date.setdefault(record.business_date, []).append(record)
    for business_date in sorted(by_date):
        stores = sorted(by_date[business_date], key=lambda record: record.store_id)
        sums = dict.fromkeys(("transactions", "gross", "refunds", "vat"), 0)
        for record in stores:
            vat = vat_in_cents(record.net_cents)
            rows.append(
                _vat_row(
                    business_date,
                    "store",
                    record.store_id,
                    record.region,
                    record.transactions,
                    record.gross_cents,
                    record.refunds_cents,
                    vat,
                )
            )
            sums["transactions"] += record.transactions
            sums["gross"] += record.gross_cents
            sums["refunds"] += record.refunds_cents
            sums["vat"] += vat
        rows.append(
            _vat_row(
                business_date,
                "national",
                "",
                "",
                sums["transactions"],
                sums["gross"],
                sums["refunds"],
                sums["vat"],
            )
        )
    return rows


def _vat_row(
    business_date: str,
    scope: str,
    store_id: str,
    region: str,
    transactions: int,
    gross_cents: int,
    refunds_cents: int,
    vat_cents: int,
) -> dict[str, str]:
    net_cents = gross_cents - refunds_cents
    return {
        "business_date": business_date,
        "scope": scope,
        "store_id": store_id,
        "region": region,
        "transactions": str(transactions),
        "gross_sales_zar": rand(gross_cents),
        "refunds_zar": rand(refunds_cents),
        "net_sales_zar": rand(net_cents),
        "vat_zar": rand(vat_cents),
        "net_sales_excl_vat_zar": rand(net_cents - vat_cents),
    }


def cash_reconciliation(
    totals: Iterable[DailyTotals],
    declarations: Iterable[CashDeclaration],
    tolerance_cents: int = 0,
) -> list[dict[str, str]]:
    """One row per store and business date (sorted): the cash the till should hold (cash sales
    minus cash refunds) against the cash declared. The difference is declared - expected:
    negative is SHORT, positive OVER, within ``tolerance_cents`` either way BALANCED; a store
    without a declaration is NOT_DECLARED. A declaration with no totals is kept (expected 0,
    region unknown): cash nobody sold is a difference too."""
    if tolerance_cents < 0:
        raise ValueError(f"cash tolerance {tolerance_cents} cents: expected 0 or more")
    by_key = {(record.business_date, record.store_id): record for record in totals}
    declared = {(d.business_date, d.store_id): d.declared_cash_cents for d in declarations}
    rows = []
    for key in sorted(by_key.keys() | declared.keys()):
        business_date, store_id = key
        record = by_key.get(key)
        cash_sales = record.cash_cents if record else 0
        cash_refunds = record.cash_refunds_cents if record else 0
        expected = cash_sales - cash_refunds
        declared_cents = declared.get(key)
        if declared_cents is None:
            status, declared_text, difference_text = NOT_DECLARED, "", ""
        else:
            difference = declared_cents - expected
            if abs(difference) <= tolerance_cents:
                status = BALANCED
            else:
                status = SHORT if difference < 0 else OVER
            declared_text, difference_text = rand(declared_cents), rand(difference)
        rows.append(
            {
                "business_date": business_date,
                "store_id": store_id,
                "region": record.region if record else "",
                "cash_sales_zar": rand(cash_sales),
                "cash_refunds_zar": rand(cash_refunds),
                "expected_cash_zar": rand(expected),
                "declared_cash_zar": declared_text,
                "difference_zar": difference_text,
                "status": status,
                "flagged": "no" if status == BALANCED else "yes",
            }
        )
    return rows


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> str:
    """The rows as CSV text: a header, ``\\n`` line ends, quoting only where needed."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


# -- reading the input ----------------------------------------------------------------------------


def parse_daily_totals(lines: Iterable[tuple[str, int, str]]) -> list[DailyTotals]:
    """Daily totals from (source, line number, text) lines of JSON; fields beyond the contract
    are ignored; a store may appear once per business date."""
    records: list[DailyTotals] = []
    seen: dict[tuple[str, str], str] = {}
    for where, fields in _json_objects(lines):
        record = DailyTotals(
            store_id=_text(fields, "store_id", where),
            region=_text(fields, "region", where),
            business_date=_business_date(fields, where),
            transactions=_count(fields, "transactions", where),
            gross_cents=_count(fields, "gross_cents", where),
            refunds_cents=_count(fields, "refunds_cents", where),
            cash_cents=_count(fields, "cash_cents", where),
            card_cents=_count(fields, "card_cents", where),
            cash_refunds_cents=_count(fields, "cash_refunds_cents", where),
        )
        if record.cash_cents + record.card_cents != record.gross_cents:
            raise InvalidRecord(
                f"{where}: cash_cents {record.cash_cents} + card_cents {record.card_cents} "
                f"is not gross_cents {record.gross_cents}"
            )
        if record.cash_refunds_cents > record.refunds_cents:
            raise InvalidRecord(
                f"{where}: cash_refunds_cents {record.cash_refunds_cents} is more than "
                f"refunds_cents {record.refunds_cents}"
            )
        key = (record.business_date, record.store_id)
        if key in seen:
            raise InvalidRecord(
                f"{where}: {record.store_id} on {record.business_date} again "
                f"(first at {seen[key]}): a store has one totals record per business date"
            )
        seen[key] = where
        records.append(record)
    return records


def parse_declarations(lines: Iterable[tuple[str, int, str]]) -> list[CashDeclaration]:
    """Cash declarations from (source, line number, text) lines of JSON; one per store and
    business date."""
    declarations: list[CashDeclaration] = []
    seen: dict[tuple[str, str], str] = {}
    for where, fields in _json_objects(lines):
        declaration = CashDeclaration(
            store_id=_text(fields, "store_id", where),
            business_date=_business_date(fields, where),
            declared_cash_cents=_count(fields, "declared_cash_cents", where),
        )
        key = (declaration.business_date, declaration.store_id)
        if key in seen:
            raise InvalidRecord(
                f"{where}: a second declaration of {declaration.store_id} on "
                f"{declaration.business_date} (first at {seen[key]})"
            )
        seen[key] = where
        declarations.append(declaration)
    return declarations


def _json_objects(lines: Iterable[tuple[str, int, str]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for source, number, text in lines:
        if not text.strip():
            continue
        where = f"{source}:{number}"
        try:
            value = json.loads(text)
        except ValueError as error:
            raise InvalidRecord(f"{where}: not JSON ({error})") from None
        if not isinstance(value, dict):
            raise InvalidRecord(f"{where}: expected a JSON object, got {type(value).__name__}")
        yield where, value


def _text(fields: Mapping[str, Any], name: str, where: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRecord(f"{where}: {name} must be a non-empty string, got {value!r}")
    return value


def _count(fields: Mapping[str, Any], name: str, where: str) -> int:
    value = fields.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRecord(f"{where}: {name} must be a whole number >= 0, got {value!r}")
    return value


def _business_date(fields: Mapping[str, Any], where: str) -> str:
    value = _text(fields, "business_date", where)
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.isoformat() != value:
        raise InvalidRecord(f"{where}: business_date must be YYYY-MM-DD, got {value!r}")
    return value


# -- storage: a local folder (the simulator, tests) or an S3 prefix (Glue) ------------------------


def _is_data_file(relative: str) -> bool:
    """Skip what writers leave beside the data: ``_SUCCESS``, hidden files, ``.crc``."""
    parts = relative.split("/")
    if any(part.startswith(("_", ".")) for part in parts if part):
        return False
    return not relative.endswith(".crc")


def _decode(name: str, body: bytes) -> str:
    return (gzip.decompress(body) if name.endswith(".gz") else body).decode("utf-8")


def read_lines(location: str, s3_client: Any = None) -> Iterator[tuple[str, int, str]]:
    """Every line of every data file at ``location`` (a file, a folder read recursively, or an
    ``s3://bucket/prefix``: that object or every object under ``prefix/``), in key order, as
    (source, line number, text). A location that does not exist yields nothing."""
    for source, body in _read_files(location, s3_client):
        for number, text in enumerate(_decode(source, body).splitlines(), start=1):
            yield source, number, text


def _read_files(location: str, s3_client: Any) -> Iterator[tuple[str, bytes]]:
    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://") :].partition("/")
        client = s3_client or _s3_client()
        folder = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        keys = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key == prefix or (key.startswith(folder) and _is_data_file(key[len(folder) :])):
                    keys.append(key)
        for key in sorted(keys):
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            yield f"s3://{bucket}/{key}", body
        return
    path = Path(location)
    if path.is_file():
        yield str(path), path.read_bytes()
    elif path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            if _is_data_file(file.relative_to(path).as_posix()):
                yield str(file), file.read_bytes()


def write_text(location: str, name: str, text: str, s3_client: Any = None) -> str:
    """Write ``text`` as ``name`` under ``location`` (a folder or an ``s3://`` prefix),
    replacing what was there; the place written."""
    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://") :].partition("/")
        key = "/".join(part for part in (prefix.rstrip("/"), name) if part)
        client = s3_client or _s3_client()
        client.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType="text/csv")
        return f"s3://{bucket}/{key}"
    folder = Path(location)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    target.write_bytes(text.encode("utf-8"))
    return str(target)


def _s3_client() -> Any:
    import boto3  # present in Glue's Python shell; only needed for s3:// locations

    return boto3.client("s3")


# -- the entry ------------------------------------------------------------------------------------


def main(args: Mapping[str, str], spark: Any = None, s3_client: Any = None) -> None:
    """Read ``daily_totals_input`` (and ``declared_cash_input`` if given), write
    ``vat_summary.csv`` and ``cash_reconciliation.csv`` under ``reports_output``. Optional:
    ``cash_tolerance_cents`` (default 0: any difference is flagged). ``spark`` is unused."""
    totals_location = args["daily_totals_input"]
    totals = parse_daily_totals(read_lines(totals_location, s3_client))
    if not totals:
        raise ValueError(
            f"no daily totals at {totals_location}: aggregate_sales has not written this night"
        )
    declared_location = args.get("declared_cash_input", "")
    declarations = (
        parse_declarations(read_lines(declared_location, s3_client)) if declared_location else []
    )
    tolerance_text = args.get("cash_tolerance_cents", "0")
    try:
        tolerance = int(tolerance_text)
    except ValueError:
        raise ValueError(
            f"cash_tolerance_cents {tolerance_text!r}: expected a whole number of cents"
        ) from None
    output = args["reports_output"]
    write_text(output, VAT_SUMMARY, to_csv(VAT_COLUMNS, vat_summary(totals)), s3_client)
    reconciliation = cash_reconciliation(totals, declarations, tolerance)
    write_text(output, CASH_RECONCILIATION, to_csv(CASH_COLUMNS, reconciliation), s3_client)
    flagged = sum(1 for row in reconciliation if row["flagged"] == "yes")
    print(
        f"format_regulatory_reports: {len(totals)} store totals, {len(declarations)} cash "
        f"declarations, {flagged} reconciliation(s) flagged; written to {output}"
    )


def _optional_arguments(argv: Sequence[str], names: Sequence[str]) -> dict[str, str]:
    """``--name value`` pairs of ``argv`` for ``names`` (getResolvedOptions requires every name
    it is given, so the optional ones are read here)."""
    found = {}
    for index, argument in enumerate(argv[:-1]):
        if argument.startswith("--") and argument[2:] in names:
            found[argument[2:]] = argv[index + 1]
    return found


if __name__ == "__main__":  # the Glue entry: awsglue lives here only
    from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]

    resolved = getResolvedOptions(sys.argv, ["JOB_NAME", "daily_totals_input", "reports_output"])
    resolved.update(_optional_arguments(sys.argv, ["declared_cash_input", "cash_tolerance_cents"]))
    main(resolved, None)
