"""What detect_fraud reads from its environment, parsed once at start-up."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class SettingsError(RuntimeError):
    """The function's environment is incomplete or wrong; the message names each variable."""


class Settings(BaseModel):
    """Read once at start-up from the function's environment."""

    model_config = ConfigDict(frozen=True)

    fraud_alerts_table: str = Field(alias="FRAUD_ALERTS_TABLE", min_length=1)
    fraud_baselines_table: str = Field(alias="FRAUD_BASELINES_TABLE", min_length=1)
    reference_table: str = Field(alias="REFERENCE_TABLE", min_length=1)
    alert_topic_arn: str = Field(alias="ALERT_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    quarantine_bucket: str = Field(alias="QUARANTINE_BUCKET", min_length=3)
    fraud_score_alert: float = Field(alias="FRAUD_SCORE_ALERT", gt=0, le=1)


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings from ``environment``; :class:`SettingsError` naming every bad variable."""
    try:
        return Settings.model_validate(dict(environment))
    except ValidationError as error:
        problems = []
        for problem in error.errors(include_url=False, include_input=False):
            name = ".".join(str(part) for part in problem["loc"])
            if problem["type"] == "missing":
                problems.append(f"environment variable {name} is not set")
            else:
                problems.append(f"environment variable {name}: {problem['msg']}")
        raise SettingsError("detect_fraud: " + "; ".join(problems)) from None
