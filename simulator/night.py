"""``python -m simulator night``: a whole night of the chain in the local cloud, with fault drills.

The synthesized app is deployed into :class:`simulator.cloud.LocalCloud` while the generator
writes the business day in a child process; then the simulated clock walks from 22:00 to 07:30
in the stores' time zone in steps of :data:`STEP_MINUTES`. At each step:

- stores upload their sales files and markers when the generator's marker says they were made
  (the late store after the cutoff; the missing store never), to the landing zone;
- a slice of the day's POS transactions goes onto the Kinesis stream (every transaction up to
  :data:`POS_STREAM_BUDGET` a day, else a stated every-n-th sample, or ``--pos-sample``),
  delivered to detect_fraud by the event source mapping and archived by Firehose;
- fridges report through IoT Core in the telemetry region, competitor prices go onto the retail
  bus (match_price), stock counts onto the inventory FIFO queue (reorder_inventory) — stated
  samples, since each is a Lambda invocation per message or per ten;
- the clock advances, so the app's own EventBridge Scheduler schedules fire (23:00 opening,
  00:00 cutoff, 02:00 nightly_sales, the deadlines, 06:00 prices and the dead-man check, 07:00
  dashboards) and the state machines and Glue jobs run; executions are awaited at each step.

Drills (``--inject``) arm faults through :mod:`simulator.faults` before the moment they matter.
At the end :mod:`simulator.accounting` counts where every record went from the cloud's own state
and :mod:`simulator.report` prints the summary and writes the report folder. The night fails
(exit 1) when the accounting does not close or a drill did not get its documented reaction.
"""

from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing
import re
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final

import boto3

from simulator.accounting import Tally
from simulator.cloud import LocalCloud, subscribe_inbox
from simulator.faults import FaultInjectingGlueRunner, FaultRegistry, SupplierStandIn
from simulator.glue import FakeGlueRunner, GlueRunner, LocalSparkRunner
from simulator.moto_at_scale import moto_at_scale
from simulator.stepfunctions import ExecutionTimeout, wait_for_execution
from stacks.config import load_environment
from symphony.contracts import pos_partition_key
from symphony.generator import ANOMALIES, GenerateOptions, generate

DRILLS: Final = (
    "never_submits",
    "late_store",
    "glue_fails_once",
    "glue_fails",
    "poison_records",
    "throttled_table",
    "handler_timeout",
    "duplicate_batch",
    "supplier_down",
)
"""Every drill ``--inject`` knows, in the order they happen in the night."""
DRILL_DESCRIPTIONS: Final = {
    "never_submits": "a store never submits its files",
    "late_store": "a store submits after the night's run has started (03:30)",
    "glue_fails_once": "validate_sales fails once at 02:00",
    "glue_fails": "aggregate_sales fails for good in the 02:00 run",
    "poison_records": "unreadable records on the POS stream",
    "throttled_table": "the inventory table throttles writes",
    "handler_timeout": "detect_fraud times out on two batches",
    "duplicate_batch": "a whole batch of POS records delivered twice",
    "supplier_down": "the supplier cost API refuses every connection",
}
SCHEDULED_FUNCTIONS: Final = (
    "open_collection",
    "check_submissions",
    "distribute_prices",
    "refresh_dashboards",
    "check_night_done",
    "restate_night",
    "record_night",
)
"""Functions whose scheduled (or restating) invocations the timeline shows as moments."""
STEP_MINUTES: Final = 15
NIGHT_STARTS: Final = (22, 0)
NIGHT_ENDS: Final = (7, 30)
LATE_UPLOAD_AT: Final = (3, 30)
POISON_RECORDS: Final = 7
TIMED_OUT_INVOCATIONS: Final = 2
THROTTLED_REQUESTS: Final = 14
"""More than botocore's 10 attempts for DynamoDB: one write fails back to the handler."""
SUPPLIER_DOWN_EVENTS: Final = 8
SUPPLIER_CIRCUIT_ID: Final = "circuit#supplier-api"
"""The supplier breaker's item in the circuit table (match_price's ``adapters.CIRCUIT_ID``)."""
FUNCTION_ENVIRONMENT: Final = {"POWERTOOLS_TRACE_DISABLED": "true"}
"""What every function of the night runs with over its own variables: no X-Ray (there is no
daemon here to send segments to; the SDK's subsegment per AWS call, on ~65,000 calls, would
cost the night ~5% for nothing anyone sees)."""
NIGHT_GC_THRESHOLDS: Final = (50_000, 20, 1_000)
"""The cyclic garbage collector's thresholds for the length of a night (Python's: 700, 10, 10).
The night holds millions of objects (moto's items and objects, the runtime's history), and a
full collection walks all of them: at the defaults the 2,900-store night spent ~22 s in the
collector, 16 s of it in 24 full collections; with these, ~10 s and none (measured with
``gc.callbacks``). Garbage without cycles is still freed at once, by reference counting."""
POS_BATCH: Final = 500
POS_STREAM_BUDGET: Final = 30_000
"""Without ``--pos-sample``, a night streams every POS transaction up to this many (150 stores
at 200 a store) and otherwise a stated every-n-th sample of about this many: each streamed
record costs ~1 ms here (Kinesis, the mapping, detect_fraud, Firehose), so the 580k of 2,900
stores alone would take about ten minutes."""


class NightError(ValueError):
    """A bad ``night`` argument; the message names it, the value and what is allowed."""


@dataclass(frozen=True, kw_only=True)
class NightOptions:
    business_date: date = date(2026, 11, 27)
    stores: int = 2900
    seed: int = 0
    drills: tuple[str, ...] = ()
    environment: str = "dev"
    glue: str = "fast"
    transactions_per_store: int = 200
    pos_sample: float | None = None
    """Fraction of the day's POS transactions streamed (1.0: every one); ``None``: every one up
    to :data:`POS_STREAM_BUDGET` transactions, else every n-th so about that many stream (see
    :meth:`pos_keep_every`)."""
    fridge_stores: int = 10
    """Stores whose fridges report (the warm fridge's store always does)."""
    inventory_stores: int = 20
    """Stores whose stock counts are sent (a FIFO batch is at most 10 messages)."""
    price_changes: int = 120
    """Competitor price changes put on the retail bus."""

    def __post_init__(self) -> None:
        unknown = [drill for drill in self.drills if drill not in DRILLS]
        if unknown:
            raise NightError(
                f"--inject {','.join(unknown)} is not allowed: expected all or any of "
                f"{', '.join(DRILLS)}"
            )
        if self.glue not in ("fast", "spark"):
            raise NightError(f"--glue {self.glue!r} is not allowed: expected fast or spark")
        if self.pos_sample is not None and not 0.0 < self.pos_sample <= 1.0:
            raise NightError(
                f"--pos-sample {self.pos_sample} is not allowed: expected a fraction above 0, at "
                "most 1"
            )
        for name in ("fridge_stores", "inventory_stores", "price_changes"):
            if getattr(self, name) < 0:
                raise NightError(f"--{name.replace('_', '-')} must be 0 or more")

    def pos_keep_every(self, transactions: int) -> int:
        """Stream every n-th of the day's ``transactions`` POS transactions (1: every one)."""
        if self.pos_sample is not None:
            return max(1, round(1 / self.pos_sample))
        return max(1, -(-transactions // POS_STREAM_BUDGET))


def parse_drills(values: list[str]) -> tuple[str, ...]:
    """``--inject`` values (repeated and/or comma-separated, ``all``) in night order."""
    names = {name.strip() for value in values for name in value.split(",") if name.strip()}
    if "all" in names:
        return DRILLS
    unknown = sorted(names - set(DRILLS))
    if unknown:
        raise NightError(
            f"--inject {','.join(unknown)} is not allowed: expected all or any of "
            f"{', '.join(DRILLS)}"
        )
    return tuple(drill for drill in DRILLS if drill in names)


Progress = Callable[[str, datetime, int, int], None]
"""Called with (stage, simulated local time, stores submitted, stores expected)."""


@dataclass
class Resources:
    """Physical names of what the night touches, looked up in the deployed stacks."""

    cloud: LocalCloud
    environment: str

    def find(self, stack: str, prefix: str, resource_type: str) -> str:
        name = f"Symphony-{self.environment}-{stack}"
        for deployer in self.cloud.deployed:
            for deployed in deployer.stacks.values():
                if deployed.name != name:
                    continue
                found = [
                    resource.ref
                    for logical, resource in deployed.context.resources.items()
                    if logical.startswith(prefix) and resource.resource_type == resource_type
                ]
                if len(found) == 1:
                    return str(found[0])
        raise LookupError(f"no single {resource_type} {prefix}* in {name}")

    def bucket(self, zone: str) -> str:
        return self.find("Data", f"{zone}Zone", "AWS::S3::Bucket")

    def table(self, prefix: str) -> str:
        return self.find("Data", prefix, "AWS::DynamoDB::Table")

    def queue_url(self, stack: str, prefix: str) -> str:
        return self.find(stack, prefix, "AWS::SQS::Queue")

    def job(self, prefix: str) -> str:
        return self.find("Analytics", f"{prefix}Job", "AWS::Glue::Job")


@dataclass
class Observed:
    """What the night saw happen, by simulated time: the report's raw material."""

    executions: list[dict[str, Any]] = field(default_factory=list)
    """Every state machine execution: name, machine, input, status, simulated start/end, real
    start/end (the run's duration on this machine), error."""
    moments: list[dict[str, Any]] = field(default_factory=list)
    """Scheduled handler invocations: function, simulated time, ok."""
    alerts: list[dict[str, Any]] = field(default_factory=list)
    """What reached the alert topics: tier, region, simulated time, subject/first line."""
    uploads: dict[str, str] = field(default_factory=dict)
    """store -> simulated local time of its marker's upload."""
    fed: dict[str, int] = field(default_factory=dict)
    """Records the simulator put in, per feed (stated; the accounting counts from the cloud)."""
    drills: dict[str, dict[str, Any]] = field(default_factory=dict)
    wall_seconds: float = 0.0


def local_walk(business_date: date, zone: Any) -> Iterator[datetime]:
    """The night's steps, in the stores' zone: 22:00 on the business date to 07:30 next day."""
    moment = datetime(business_date.year, business_date.month, business_date.day, *NIGHT_STARTS)
    moment = moment.replace(tzinfo=zone)
    end = datetime.combine(business_date + timedelta(days=1), datetime.min.time(), zone).replace(
        hour=NIGHT_ENDS[0], minute=NIGHT_ENDS[1]
    )
    while moment <= end:
        yield moment
        moment += timedelta(minutes=STEP_MINUTES)


@contextlib.contextmanager
def _collector_thresholds(thresholds: tuple[int, int, int]) -> Iterator[None]:
    previous = gc.get_threshold()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def _chunks(items: list[Any], parts: int) -> list[list[Any]]:
    size = max(1, -(-len(items) // max(1, parts)))
    return [items[start : start + size] for start in range(0, len(items), size)]


class Night:
    """One night: deploy, generate, walk the clock, observe. ``run()`` returns the summary."""

    def __init__(
        self, options: NightOptions, assembly: Path, work: Path, progress: Progress | None = None
    ) -> None:
        self.options = options
        self.assembly = assembly
        self.work = work
        self.progress = progress
        self.config = load_environment(options.environment)
        self.zone = self.config.stores.zone
        self.faults = FaultRegistry()
        self.observed = Observed()
        self._seen_invocations: set[str] = set()
        self.tally = Tally()
        self._clients: dict[tuple[str, str], Any] = {}
        self._execution_index: dict[str, dict[str, Any]] = {}

    # -- setting up --------------------------------------------------------------------------

    def _runner(self) -> GlueRunner:
        inner: GlueRunner = (
            FakeGlueRunner()
            if self.options.glue == "fast"
            else LocalSparkRunner(self.work / "glue")
        )
        self.glue = FaultInjectingGlueRunner(inner, self.faults)
        return self.glue

    def _generate_options(self) -> GenerateOptions:
        anomalies = tuple(
            name
            for name in ANOMALIES
            if name != "missing_store" or "never_submits" in self.options.drills
        )
        return GenerateOptions(
            stores=self.options.stores,
            business_date=self.options.business_date,
            seed=self.options.seed,
            transactions_per_store=self.options.transactions_per_store,
            anomalies=anomalies,
        )

    def run(self) -> dict[str, Any]:

        started = time.monotonic()
        walk = list(local_walk(self.options.business_date, self.zone))
        self.walk_starts, self.walk_ends = walk[0], walk[-1]
        start = walk[0].astimezone(UTC) - timedelta(minutes=30)
        # The day is generated in a child process while this one deploys the app and then loads
        # the reference files (the generator writes them first): the three take about as long
        # at full size, and the night needs the rest of the day only for its feeds.
        self._stage("generating the day; deploying the app", None)
        with (
            _collector_thresholds(NIGHT_GC_THRESHOLDS),
            _generating(self._generate_options(), self.work / "day") as generation,
            moto_at_scale(),
            LocalCloud(glue_runner=self._runner(), start=start, work_dir=self.work) as cloud,
        ):
            self.cloud = cloud
            cloud.runtime.environment_overrides.update(FUNCTION_ENVIRONMENT)
            cloud.deploy(self.assembly, self.options.environment)
            self.day = self.work / "day"
            generation.reference()
            return self._night(cloud, walk, started, generation)

    def _night(
        self, cloud: LocalCloud, walk: list[datetime], started: float, generation: _Generation
    ) -> dict[str, Any]:
        from simulator.accounting import account
        from simulator.report import build_summary

        self.resources = Resources(cloud, self.options.environment)
        supplier = SupplierStandIn.from_products(
            self.config.pricing.supplier_api_url,
            self.day / "reference" / "products.jsonl",
            self.faults,
        )
        with self.faults.installed(cloud.runtime), supplier.installed():
            self.supplier = supplier
            self._inboxes = self._subscribe_inboxes()
            self._stage("loading the reference data (the day still being generated)", None)
            self._seed_reference()
            self.day_summary = generation.summary()
            self.labels = json.loads((self.day / "labels.json").read_bytes())
            self._plan_feeds()
            for moment in walk:
                self._step(moment)
            self._finish_drills()
            self.accounting = account(self)
        self.observed.wall_seconds = time.monotonic() - started
        return build_summary(self)

    def _client(self, service: str, region_name: str | None = None) -> Any:
        """One boto3 client per service and region for the night (making one costs ~10 ms)."""
        key = (service, region_name or self.cloud.region)
        if key not in self._clients:
            self._clients[key] = boto3.client(service, region_name=key[1])
        return self._clients[key]

    def _stage(self, stage: str, moment: datetime | None) -> None:
        self.current_stage = stage
        if self.progress is not None:
            submitted = len(self.observed.uploads)
            expected = int(getattr(self, "day_summary", {}).get("stores_trading", 0))
            self.progress(stage, moment or datetime.now(self.zone), submitted, expected)

    def _subscribe_inboxes(self) -> dict[tuple[str, str], str]:
        """An SQS inbox on every alert topic of both regions (what a subscriber would get)."""
        inboxes: dict[tuple[str, str], str] = {}
        for region in sorted(
            {self.config.region or "af-south-1", self.config.cold_chain.telemetry_region}
        ):
            sns = self._client("sns", region_name=region)
            for topic in sns.list_topics()["Topics"]:
                arn = topic["TopicArn"]
                tier = next(
                    (
                        t
                        for t in ("critical", "important", "informational")
                        if f"{t.capitalize()}Topic" in arn
                    ),
                    None,
                )
                if tier is None or "Alert" not in arn:
                    continue
                inboxes[(region, tier)] = subscribe_inbox(
                    arn, f"night-inbox-{tier}-{len(inboxes)}", region_name=region
                )
        return inboxes

    def _seed_reference(self) -> None:
        s3 = self._client("s3")
        bucket = self.resources.bucket("Reference")
        for master in ("stores", "products", "fraud_baselines", "demand"):
            s3.put_object(
                Bucket=bucket,
                Key=f"{master}/{self.options.business_date}.jsonl",
                Body=(self.day / "reference" / f"{master}.jsonl").read_bytes(),
            )
        self.cloud.settle()

    # -- the feeds ---------------------------------------------------------------------------

    def _plan_feeds(self) -> None:
        """Cut every feed into the slices the walk's steps send."""
        options = self.options
        steps = len(list(local_walk(options.business_date, self.zone)))
        feeding_steps = steps - 8  # the last two hours carry no new events
        lines = (self.day / "stream" / "pos_transactions.jsonl").read_bytes().splitlines()
        self.pos_keep_every = options.pos_keep_every(len(lines))
        self._planted = self._planted_fraud_lines(lines)
        lines = lines[:: self.pos_keep_every]
        self.pos_slices = _chunks(lines, feeding_steps)
        self.observed.fed["pos_transactions"] = len(lines)
        self.pos_total = int(self.day_summary["pos_transactions_in_stream"])

        warm = next((a for a in self.labels["anomalies"] if a["anomaly"] == "warm_fridge"), None)
        self.warm_fridge = warm["evidence"]["fridge_id"] if warm else None
        trading = [
            json.loads(line)["store_id"]
            for line in (self.day / "reference" / "stores.jsonl").read_bytes().splitlines()
        ]
        fridge_stores = set(trading[: options.fridge_stores])
        if self.warm_fridge:
            fridge_stores.add(self.warm_fridge.rsplit("-F", 1)[0])
        readings = [
            line
            for line in (self.day / "stream" / "fridge_readings.jsonl").read_bytes().splitlines()
            if json.loads(line)["store_id"] in fridge_stores
        ]
        self.fridge_slices = _chunks(readings, feeding_steps)
        self.observed.fed["fridge_readings"] = len(readings)
        self.fridge_stores = sorted(fridge_stores)

        prices = (self.day / "stream" / "competitor_prices.jsonl").read_bytes().splitlines()
        prices = prices[: options.price_changes]
        self.price_slices = _chunks(prices, feeding_steps)
        self.observed.fed["competitor_prices"] = len(prices)

        inventory_stores = set(trading[: options.inventory_stores])
        updates = [
            line
            for line in (self.day / "stream" / "inventory_updates.jsonl").read_bytes().splitlines()
            if json.loads(line)["store_id"] in inventory_stores
        ]
        self.inventory_slices = _chunks(updates, feeding_steps)
        self.observed.fed["inventory_updates"] = len(updates)
        self.inventory_stores = sorted(inventory_stores)

        self.markers: dict[str, datetime] = {}
        folder = self.day / "landing" / "sales" / f"date={self.options.business_date}"
        for store_folder in sorted(folder.iterdir()):
            marker = json.loads((store_folder / "_manifest.json").read_bytes())
            self.markers[marker["store_id"]] = datetime.fromisoformat(marker["created_at"])
        late = self.day_summary["stores_late"]
        self.late_store = late[0]["store_id"] if late else None
        if "late_store" in options.drills and self.late_store:
            when = self.markers[self.late_store]
            self.markers[self.late_store] = datetime.combine(
                when.date(), datetime.min.time(), self.zone
            ).replace(hour=LATE_UPLOAD_AT[0], minute=LATE_UPLOAD_AT[1])
        self.missing_store = (self.day_summary["stores_missing"] or [None])[0]
        self.cutoff = datetime.combine(
            self.options.business_date + timedelta(days=1), datetime.min.time(), self.zone
        )

    def _upload_due(self, moment: datetime) -> None:
        s3 = self._client("s3")
        landing = self.resources.bucket("Landing")
        for store, created in sorted(self.markers.items()):
            if store in self.observed.uploads or created > moment:
                continue
            folder = (
                self.day
                / "landing"
                / "sales"
                / f"date={self.options.business_date}"
                / f"store={store}"
            )
            for path in sorted(folder.iterdir(), key=lambda p: p.name == "_manifest.json"):
                s3.put_object(
                    Bucket=landing, Key=str(path.relative_to(self.day)), Body=path.read_bytes()
                )
            # made at the marker's moment (the step only batches the uploads)
            self.observed.uploads[store] = min(created, moment).isoformat(timespec="minutes")

    def _put_pos(self, lines: list[bytes]) -> None:
        kinesis = self._client("kinesis")
        stream = self.resources.find("Data", "PosTransactionsStream", "AWS::Kinesis::Stream")
        for start in range(0, len(lines), POS_BATCH):
            chunk = lines[start : start + POS_BATCH]
            records = []
            for line in chunk:
                try:
                    key = pos_partition_key(json.loads(line))
                except (ValueError, KeyError, TypeError, AttributeError):
                    key = "poison"
                records.append({"Data": line, "PartitionKey": key})
            kinesis.put_records(StreamName=stream, Records=records)

    def _publish_fridges(self, lines: list[bytes]) -> None:
        iot = self._client("iot-data", region_name=self.config.cold_chain.telemetry_region)
        for line in lines:
            reading = json.loads(line)
            iot.publish(
                topic=f"stores/{reading['store_id']}/fridges/{reading['fridge_id']}/temperature",
                qos=1,
                payload=line,
            )

    def _put_prices(self, lines: list[bytes]) -> None:
        events = self._client("events")
        bus = self.resources.find("Data", "RetailEvents", "AWS::Events::EventBus")
        for start in range(0, len(lines), 10):
            events.put_events(
                Entries=[
                    {
                        "Source": "symphony.pricing",
                        "DetailType": "CompetitorPriceChanged",
                        "Detail": line.decode(),
                        "EventBusName": bus,
                    }
                    for line in lines[start : start + 10]
                ]
            )

    def _send_inventory(self, lines: list[bytes]) -> None:
        sqs = self._client("sqs")
        queue = self.resources.queue_url("Realtime", "InventoryUpdatesQueue")
        for start in range(0, len(lines), 10):
            entries = []
            for index, line in enumerate(lines[start : start + 10]):
                update = json.loads(line)
                entries.append(
                    {
                        "Id": str(index),
                        "MessageBody": line.decode(),
                        "MessageGroupId": update["store_id"],
                        "MessageDeduplicationId": ":".join(
                            (update["store_id"], update["sku"], update["recorded_at"])
                        ),
                    }
                )
            sqs.send_message_batch(QueueUrl=queue, Entries=entries)

    # -- the walk ----------------------------------------------------------------------------

    def _step(self, moment: datetime) -> None:
        index = int(
            (moment - next(local_walk(self.options.business_date, self.zone))).total_seconds()
            // (STEP_MINUTES * 60)
        )
        self._arm_drills(moment)
        self._stage(self._stage_name(moment), moment)
        # The clock first goes to just before the step, so what the stores and tills send now
        # happens on it (a restatement started by an upload at 03:30 says 03:29:59, not the
        # previous step), and a schedule at the step's own time (00:00) sees those uploads.
        self.cloud.clock.advance_to(moment.astimezone(UTC) - timedelta(seconds=1))
        self._upload_due(moment)
        for slices, send in (
            (self.pos_slices, self._put_pos),
            (self.fridge_slices, self._publish_fridges),
            (self.price_slices, self._put_prices),
            (self.inventory_slices, self._send_inventory),
        ):
            if index < len(slices):
                send(slices[index])
        if index == 0:
            self._inject_stream_drills()
        self.cloud.settle()
        self.cloud.clock.advance_to(moment.astimezone(UTC))
        self._await_executions(moment)
        self.cloud.settle()
        self.tally.read(self)
        self._observe_breaker(moment)
        self._collect_alerts(moment)
        self._observe_moments(moment)

    def _stage_name(self, moment: datetime) -> str:
        # Only the night's own machine: others (an incident's escalation waiting for its
        # acknowledgement) may wait for days, and would name every step of the night.
        running = sorted(
            {
                e["machine"].split("-")[-2]
                for e in self.observed.executions
                if e["status"] == "RUNNING" and e["machine"].endswith("nightly-sales")
            }
        )
        if running:
            return f"waiting: {', '.join(running)}"
        hour = moment.hour
        if hour >= 22 or hour < 2:
            return "collecting uploads; streams flowing"
        if hour < 6:
            return "nightly pipeline and restatements"
        return "morning: prices, dead-man check, dashboards"

    def _arm_drills(self, moment: datetime) -> None:
        drills = self.options.drills
        if (moment.hour, moment.minute) == (1, 45):
            if "glue_fails_once" in drills:
                self.faults.fail_glue_job(self.resources.job("ValidateSales"), "fail_once")
            if "glue_fails" in drills:
                self.faults.fail_glue_job(self.resources.job("AggregateSales"), "fail")
        if (moment.hour, moment.minute) == (2, 15) and "glue_fails" in drills:
            self.faults.glue_outcomes.pop(self.resources.job("AggregateSales"), None)
        if (moment.hour, moment.minute) == (22, 30) and "throttled_table" in drills:
            self.faults.throttle(self.resources.table("InventoryTable"), THROTTLED_REQUESTS)
        if (moment.hour, moment.minute) == (22, 30) and "handler_timeout" in drills:
            self.faults.time_out(self.cloud.function_named("detect_fraud"), TIMED_OUT_INVOCATIONS)
        if "supplier_down" in drills:
            self.faults.supplier_down = (moment.hour, moment.minute) in (
                (22, 15),
                (22, 30),
                (22, 45),
            )
            if self.faults.supplier_down:
                self.observed.drills.setdefault("supplier_down", {})["down_at"] = moment.isoformat(
                    timespec="minutes"
                )

    def _observe_breaker(self, moment: datetime) -> None:
        """While the supplier_down drill runs (and one step after), the supplier breaker's item
        in the circuit table: evidence of the breaker's state that does not depend on reading
        match_price's logs."""
        if "supplier_down" not in self.options.drills:
            return
        if not (22, 15) <= (moment.hour, moment.minute) <= (23, 0):
            return
        table = self._client("dynamodb")
        item = table.get_item(
            TableName=self.resources.table("IdempotencyTable"),
            Key={"id": {"S": SUPPLIER_CIRCUIT_ID}},
            ConsistentRead=True,
        ).get("Item", {})
        status = item.get("status", {}).get("S", "closed (no item)")
        seen = self.observed.drills.setdefault("supplier_down", {}).setdefault("breaker", [])
        seen.append({"at": moment.isoformat(timespec="minutes"), "status": status})

    def _inject_stream_drills(self) -> None:
        if "poison_records" in self.options.drills:
            poison = [b"{not json", b'{"transaction_id": 7}', b"\xff\xfe", b"[]", b'"text"',
                      b'{"store_id": "ZA-0001"}', b"null"][:POISON_RECORDS]  # fmt: skip
            self._put_pos(poison)
            self.observed.fed["poison_records"] = len(poison)
        if "duplicate_batch" in self.options.drills:
            first = self.pos_slices[0][:POS_BATCH]
            planted = self._planted
            batch = planted + first[: POS_BATCH - len(planted)]
            self._put_pos(batch)
            self._put_pos(batch)  # the producer's retry: the same batch again
            self.observed.fed["duplicate_batch"] = len(batch)
            self.observed.drills["duplicate_batch"] = {
                "records": len(batch),
                "planted_fraud_in_batch": len(planted),
            }

    def _planted_fraud_lines(self, lines: list[bytes]) -> list[bytes]:
        """The day's transactions (sampled out or not) paid with a planted fraud's card."""
        cards = sorted(
            {
                str(a.get("evidence", {}).get("card_token"))
                for a in self.labels["anomalies"]
                if a.get("evidence", {}).get("card_token")
            }
        )
        if not cards:
            return []
        paid = re.compile(b"|".join(re.escape(card.encode()) for card in cards))
        return [line for line in lines if paid.search(line)][:50]

    def _await_executions(self, moment: datetime) -> None:
        client = self._client("stepfunctions")
        for machine in client.list_state_machines()["stateMachines"]:
            arn = machine["stateMachineArn"]
            for listed in client.list_executions(stateMachineArn=arn)["executions"]:
                known = self._execution_index.get(listed["executionArn"])
                if known is not None and known["status"] != "RUNNING":
                    continue
                # The night's own machine runs to its end; others may wait for days (a task
                # token, a Wait on the clock): they are looked at again at the next step.
                patience = 600.0 if machine["name"].endswith("nightly-sales") else 0.0
                described = _wait(client, listed["executionArn"], timeout_s=patience)
                entry = known or {
                    "arn": listed["executionArn"],
                    "name": listed["name"],
                    "machine": machine["name"],
                    "input": json.loads(described.get("input") or "{}"),
                    "sim_start": moment.isoformat(timespec="seconds"),
                    "real_start": described["startDate"].isoformat(),
                }
                entry["status"] = described["status"]
                if described["status"] != "RUNNING":
                    entry["sim_end"] = moment.isoformat(timespec="seconds")
                    entry["real_end"] = described["stopDate"].isoformat()
                    entry["seconds"] = (
                        described["stopDate"] - described["startDate"]
                    ).total_seconds()
                    entry["error"] = described.get("error")
                    entry["cause"] = (described.get("cause") or "")[:300]
                if known is None:
                    self._execution_index[entry["arn"]] = entry
                    self.observed.executions.append(entry)

    def _collect_alerts(self, moment: datetime) -> None:
        for (region, tier), queue in self._inboxes.items():
            sqs = self._client("sqs", region_name=region)
            while True:
                got = sqs.receive_message(
                    QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
                ).get("Messages", [])
                if not got:
                    break
                for message in got:
                    body = message["Body"]
                    self.observed.alerts.append(
                        {
                            "tier": tier,
                            "region": region,
                            "at": moment.isoformat(timespec="minutes"),
                            "text": body[:4000],
                        }
                    )
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

    def _observe_moments(self, moment: datetime) -> None:
        for name in SCHEDULED_FUNCTIONS:
            try:
                physical = self.cloud.function_named(name)
            except LookupError:
                continue
            for invocation in self.cloud.runtime.invocations(physical):
                request = invocation.result.request_id
                if request in self._seen_invocations:
                    continue
                self._seen_invocations.add(request)
                event = invocation.event if isinstance(invocation.event, dict) else {}
                if name == "record_night" and "deadline" not in json.dumps(event):
                    continue
                if name == "check_submissions" and "scheduled_time" not in event:
                    continue
                self.observed.moments.append(
                    {
                        "function": name,
                        "at": moment.isoformat(timespec="minutes"),
                        "ok": invocation.result.ok,
                    }
                )

    def _finish_drills(self) -> None:
        self.faults.supplier_down = False


class GenerationFailed(RuntimeError):
    """Generating the day failed in the night's child process; the message holds its traceback."""


def generate_day(options: GenerateOptions, out: Path, report: Connection) -> None:
    """The generator's run in the night's child process. It sends ``("reference", None)`` once
    the reference files are written, then ``("done", summary)``, or ``("failed", traceback)``."""
    try:
        written = generate(options, out, on_reference=lambda: report.send(("reference", None)))
    except BaseException:
        report.send(("failed", traceback.format_exc()))  # the night raises it, once
        raise SystemExit(1) from None
    report.send(("done", written.summary))
    report.close()


class _Generation:
    """The day being generated by :func:`generate_day` in a child process."""

    def __init__(self, child: multiprocessing.process.BaseProcess, reports: Connection) -> None:
        self._child, self._reports = child, reports
        self._reference_written = False

    def _expect(self, kind: str) -> Any:
        try:
            received, value = self._reports.recv()
        except EOFError:
            self._child.join()
            raise GenerationFailed(
                f"generating the day stopped (exit code {self._child.exitcode}) before {kind}"
            ) from None
        if received == "failed":
            raise GenerationFailed(f"generating the day failed:\n{value}")
        if received != kind:  # pragma: no cover - generate_day sends them in order
            raise GenerationFailed(f"generating the day sent {received!r}, expected {kind!r}")
        return value

    def reference(self) -> None:
        """Return once the reference files are written."""
        if not self._reference_written:
            self._expect("reference")
            self._reference_written = True

    def summary(self) -> dict[str, Any]:
        """The generator's summary, once the whole day is written."""
        self.reference()
        summary: dict[str, Any] = self._expect("done")
        self._child.join()
        return summary


@contextlib.contextmanager
def _generating(options: GenerateOptions, out: Path) -> Iterator[_Generation]:
    """:func:`generate_day` in a child process for the block (stopped if the block ends first)."""
    context = multiprocessing.get_context("spawn")
    reports, sending = context.Pipe(duplex=False)
    child = context.Process(
        target=generate_day, args=(options, out, sending), name="generate-day", daemon=True
    )
    child.start()
    sending.close()
    try:
        yield _Generation(child, reports)
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
        reports.close()


def _wait(client: Any, arn: str, *, timeout_s: float) -> dict[str, Any]:
    """The execution's description once it left RUNNING, or at the deadline (running)."""
    try:
        return wait_for_execution(client, arn, timeout_s=timeout_s)
    except ExecutionTimeout as running:
        return running.description


def run_night(
    options: NightOptions,
    assembly: Path,
    *,
    work: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run one night and return its summary (what summary.json holds)."""
    if work is not None:
        work.mkdir(parents=True, exist_ok=True)
        return Night(options, assembly, work, progress).run()
    with tempfile.TemporaryDirectory(prefix="symphony-night-") as folder:
        return Night(options, assembly, Path(folder), progress).run()
