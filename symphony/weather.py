"""The weekly weather outlook by region: its file, its contract and a synthetic one for tests.

The weather service's outlook for ISO week ``W`` lies in the reference zone as
``weather/week=YYYY-Www.json`` (e.g. ``weather/week=2026-W49.json``), one JSON document:

```json
{
  "week": "2026-W49",
  "issued_at": "2026-11-29T18:00:00+02:00",
  "source": "SAWS extended-range forecast",
  "regions": [
    {"region": "Gauteng", "mean_max_celsius": 31.5, "normal_max_celsius": 27.0,
     "rain_days": 2}
  ]
}
```

- ``week`` must be the week of the key; ``issued_at`` carries its zone;
- per region, ``mean_max_celsius`` is the forecast mean daily maximum of the week and
  ``normal_max_celsius`` the climatological normal for that week (both -30..60 °C); the
  difference is the *anomaly* that drives the seasonal adjustment; ``rain_days`` (0-7) is
  informative only;
- each region at most once; a region the file does not list has a neutral outlook (anomaly 0),
  flagged as such; so has every region when the file is absent.

Nothing in the chain writes this file yet (the generator does not): :func:`synthetic_outlook`
makes one, deterministic by seed, for the tests and the local cloud.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Final

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from symphony.contracts import Contract, Name

OUTLOOK_PREFIX: Final = "weather/"
IsoWeek = Annotated[str, StringConstraints(pattern=r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")]
Celsius = Annotated[float, Field(ge=-30.0, le=60.0)]

# Climatological December mean daily maxima (°C), rounded: the synthetic outlook's normals.
_SUMMER_NORMALS: Final[dict[str, float]] = {
    "Gauteng": 26.0,
    "Western Cape": 27.0,
    "KwaZulu-Natal": 27.5,
    "Eastern Cape": 25.0,
    "Free State": 29.0,
    "Limpopo": 30.5,
    "Mpumalanga": 27.0,
    "North West": 31.0,
    "Northern Cape": 33.0,
}
_DEFAULT_NORMAL: Final = 28.0


class RegionOutlook(Contract):
    region: Name
    mean_max_celsius: Celsius
    normal_max_celsius: Celsius
    rain_days: int = Field(ge=0, le=7)

    @property
    def anomaly_celsius(self) -> float:
        return round(self.mean_max_celsius - self.normal_max_celsius, 2)


class WeatherOutlook(Contract):
    """One week's outlook for the regions (see the module docstring for the file)."""

    week: IsoWeek
    issued_at: AwareDatetime
    source: Name
    regions: tuple[RegionOutlook, ...]

    @model_validator(mode="after")
    def _each_region_once(self) -> WeatherOutlook:
        names = [outlook.region for outlook in self.regions]
        if len(set(names)) != len(names):
            raise ValueError("regions: a region is listed twice")
        return self

    def by_region(self) -> dict[str, RegionOutlook]:
        return {outlook.region: outlook for outlook in self.regions}


def iso_week(day: date) -> str:
    """``2026-W49`` for any day of that ISO week (weeks start on Monday)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_monday(week: str) -> date:
    """The Monday that starts ISO week ``week`` (``2026-W49`` -> 2026-11-30)."""
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1)


def outlook_key(week: str) -> str:
    """``weather/week=2026-W49.json``."""
    return f"{OUTLOOK_PREFIX}week={week}.json"


def synthetic_outlook(
    week: str,
    regions: Iterable[str],
    *,
    seed: int = 0,
    anomalies: Mapping[str, float] | None = None,
) -> WeatherOutlook:
    """A plausible summer outlook for ``regions``: normals from the table above, anomalies drawn
    within +/- 2 °C (deterministic by ``seed``) unless ``anomalies`` names a region's."""
    rng = random.Random(f"{week}:{seed}")
    fixed = dict(anomalies or {})
    outlooks = []
    for region in regions:
        normal = _SUMMER_NORMALS.get(region, _DEFAULT_NORMAL)
        drawn = round(rng.uniform(-2.0, 2.0), 1)
        anomaly = fixed.get(region, drawn)
        outlooks.append(
            RegionOutlook(
                region=region,
                mean_max_celsius=round(normal + anomaly, 1),
                normal_max_celsius=normal,
                rain_days=rng.randint(0, 4),
            )
        )
    monday = week_monday(week)
    issued = datetime.combine(monday - timedelta(days=1), datetime.min.time()).replace(
        hour=18, tzinfo=timezone(timedelta(hours=2))
    )
    return WeatherOutlook(
        week=week,
        issued_at=issued,
        source="synthetic outlook (symphony.weather)",
        regions=tuple(outlooks),
    )
