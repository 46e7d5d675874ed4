"""What the API reads and answers, as pydantic models: the OpenAPI document is built from them.

Field descriptions are what API users read at ``/docs``; keep them in the product's words.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

import fakeusers
from fakeusers import MODEL_TYPES, OVERLAPS

__all__ = [
    "Applicability",
    "ErrorItem",
    "ErrorResponse",
    "Health",
    "ModelCard",
    "ModelType",
    "OVERLAPS_DOC",
    "Overlaps",
    "PredictOptions",
    "PredictRequest",
    "PredictResponse",
    "TrainResponse",
    "ValidationErrorResponse",
    "predict_body_doc",
]

ModelType = Literal[MODEL_TYPES]  # type: ignore[valid-type]
Overlaps = Literal[OVERLAPS]  # type: ignore[valid-type]

#: What API users read about ``overlaps``, in /predict and /train alike.
OVERLAPS_DOC = (
    "With several files: a user whose rows in one file repeat, exactly, their rows in an "
    "earlier file (overlapping exports). `keep_one` (the default) keeps one copy; `keep_all` "
    "keeps both, so those users' events count twice. `warnings` says which was applied and "
    "how many users and rows overlap."
)

_REF_EXAMPLE = "june@2"


class Health(BaseModel):
    status: Literal["ok"] = Field(description="Always 'ok' when the server answers.")
    version: str = Field(description="The fakeusers version.", examples=[fakeusers.__version__])


class ErrorResponse(BaseModel):
    detail: str = Field(
        description="What is wrong and what to do, in the same words as the command line.",
        examples=["No model named 'rf' in /srv/models. Train one with ..."],
    )


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="Where: 'body', 'query' or 'path', then the field.")
    msg: str = Field(description="What is wrong there.")
    type: str = Field(description="A machine-readable error type.")


class ValidationErrorResponse(ErrorResponse):
    errors: list[ErrorItem] | None = Field(
        None, description="Present when the request did not match the schema: one per problem."
    )


class PredictOptions(BaseModel):
    """How to score and decide; the same options for every body type."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    model: str | None = Field(
        None,
        description="The model: NAME (its current version) or NAME@VERSION; see GET /models. "
        "Default: the store's default model (the promoted one).",
        examples=[_REF_EXAMPLE],
    )
    overlaps: Overlaps | None = Field(None, description=OVERLAPS_DOC)
    cost_fp: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="M, the cost of blocking a real user (a false positive). Give with cost_fn; "
        "users with p >= M / (M + F) are flagged.",
        examples=[1.0],
    )
    cost_fn: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="F, the cost of letting a fake user through (a false negative). "
        "Give with cost_fp.",
        examples=[9.0],
    )
    top_k: int | None = Field(
        None,
        ge=0,
        description="Flag the K users most likely to be fake (review capacity) instead of "
        "using the threshold. With costs as well, the costs price this decision "
        "(expected_cost).",
        examples=[100],
    )
    threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="Flag the users with p >= threshold, a threshold typed directly, instead "
        "of M / (M + F). Not with top_k. With costs as well, the costs price this decision "
        "(expected_cost).",
        examples=[0.25],
    )
    reasons: bool | None = Field(
        None,
        description="true: also answer `reasons`: for every user, up to three features that push "
        "them towards fake, in words against the model's real training users.",
    )


class PredictRequest(PredictOptions):
    """A log as columns, one array per column, one element per row (action)."""

    model_config = ConfigDict(
        extra="forbid",
        coerce_numbers_to_str=True,
        json_schema_extra={
            "examples": [
                {
                    "UserId": ["42926269", "42926269", "56620948"],
                    "Event": ["click_ad", "send_email", "phone_call"],
                    "Category": ["Motor", "Motor", "Jobs"],
                    "cost_fp": 1,
                    "cost_fn": 9,
                }
            ]
        },
    )

    UserId: list[str] = Field(min_length=1, description="The user of each row.")
    Event: list[str] = Field(
        min_length=1,
        description="click_ad, click_carrousel, phone_call, send_email or send_sms; other "
        "values are counted as 'other', with a warning.",
    )
    Category: list[str] = Field(
        min_length=1,
        description="Phone, Motor, Jobs, Leisure, Holidays or Real_State; other values are "
        "counted as 'other', with a warning.",
    )
    Fake: list[Literal[0, 1]] | None = Field(
        None, description="Optional label of each row: 1 fake user, 0 real user."
    )
    Timestamp: list[str] | None = Field(
        None,
        description="Optional time of each row: ISO 8601 (2026-11-24T10:00:03Z) or epoch "
        "seconds. Needed by models trained with timestamps (card: vocabulary.timestamps).",
    )

    @model_validator(mode="after")
    def _rows_line_up(self) -> PredictRequest:
        columns = self.columns()
        lengths = {name: len(values) for name, values in columns.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{name} has {n:,}" for name, n in lengths.items())
            raise PydanticCustomError(
                "unequal_columns",
                "The columns must have one value per row, so the same length: {shown}. "
                "Send equally long arrays.",
                {"shown": shown},
            )
        for name, values in columns.items():
            if name != "Fake" and any("\x00" in v for v in values):
                i = next(i for i, v in enumerate(values) if "\x00" in v)
                raise PydanticCustomError(
                    "nul_character",
                    "{name}[{i}] contains a NUL character (\\u0000), which no log value may "
                    "hold. Remove it.",
                    {"name": name, "i": i},
                )
        return self

    def columns(self) -> dict[str, list]:
        """The log's columns that were sent, in file order."""
        names = ("UserId", "Event", "Category", "Fake", "Timestamp")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


class Applicability(BaseModel):
    """Does the model fit the log? The log against the model's training data."""

    status: Literal["fits", "shifted", "does_not_fit", "unknown"] = Field(
        description="`fits`: the log looks like the training log, the probabilities and costs "
        "hold. `shifted`: some things moved; check the reasons. `does_not_fit`: the flags and "
        "the expected cost are unreliable on this log. `unknown`: the model was saved without "
        "a profile of its training data (retrain it to get the check)."
    )
    in_words: str = Field(description="The status in words.")
    reasons: list[str] = Field(description="Why, in plain words, most important first.")
    shifted_features: list[dict[str, Any]] = Field(
        description="The features that moved most (at most three): `feature`, `description`, "
        "`psi` (population stability index against the training deciles), `noise` (the PSI "
        "that is chance at this log's size), `median_training`, `median_here`."
    )
    psi_max: float | None = Field(
        description="The largest PSI over the features; null without a profile."
    )
    probability: dict[str, Any] | None = Field(
        description="The probabilities against the training users' out-of-fold ones: `psi`, "
        "`noise`, `mean_training`, `mean_here`."
    )
    flagged_share: dict[str, Any] | None = Field(
        description="Share of users flagged here against the share of training users "
        "(out-of-fold) at the same `threshold`: `share_here`, `share_training`. Only with "
        "costs or top_k."
    )
    unseen: dict[str, Any] = Field(
        description="`events` and `categories` the model never saw in training (`value`, "
        "`rows`), and the `row_share` of rows that have one."
    )


class Reason(BaseModel):
    """One feature that pushes a user towards fake, in words and in numbers."""

    feature: str = Field(description="The feature's name.", examples=["category_switches"])
    value: float | None = Field(description="The user's value; null when missing.")
    contribution: float = Field(
        description="Its push on the log-odds of being fake (they add up to the model's log-odds)."
    )
    odds_factor: float = Field(description="exp(contribution): the factor on the odds.")
    real_percentile: float | None = Field(
        description="Where the value falls among the model's real training users, in percent; "
        "null when the model card has no percentiles."
    )
    text: str = Field(
        description="All of it as one sentence.",
        examples=[
            "34 category switches in 42 events: more than 99% of real users; makes being fake "
            "9.8× more likely"
        ],
    )


class PredictResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": _REF_EXAMPLE,
                    "UserId": ["42926269", "56620948"],
                    "is_fake_probability": [0.31, 0.02],
                    "out_of_fold": False,
                    "notes": [],
                    "flagged": [True, False],
                    "threshold": 0.1,
                    "n_flagged": 1,
                    "expected_cost": 0.87,
                    "expected_cost_interval": [0.0, 1.0],
                    "warnings": [],
                    "applicability": {
                        "status": "fits",
                        "in_words": "the log fits the model",
                        "reasons": ["The 2 users look like the model's 4,689 training users."],
                        "shifted_features": [],
                        "psi_max": 0.02,
                        "probability": None,
                        "flagged_share": None,
                        "unseen": {"events": [], "categories": [], "row_share": 0.0},
                    },
                }
            ]
        }
    )

    model: str = Field(
        description="The model that scored the log, as NAME@VERSION: give it as `model` to "
        "score the next log with exactly this model.",
        examples=[_REF_EXAMPLE],
    )
    UserId: list[str] = Field(
        description="Each distinct user once, in order of first appearance in the log "
        "(IDs as read: surrounding spaces removed)."
    )
    is_fake_probability: list[float] = Field(
        description="Calibrated probability that the user is fake, aligned with UserId."
    )
    out_of_fold: bool = Field(
        description="True when the log is the model's own training log: the probabilities are "
        "then the model's cross-validated (out-of-fold) ones, what it does on users it has "
        "not seen, not its in-sample fit."
    )
    notes: list[str] = Field(
        description="What to know about these numbers besides the log's warnings (for "
        "instance that they are out-of-fold)."
    )
    flagged: list[bool] | None = Field(
        None,
        description="Whom to flag, aligned with UserId. Only with costs, top_k or threshold.",
    )
    why: list[str] | None = Field(
        None,
        description="Aligned with UserId: `model` (the rule decided), `confirmed fake` (an "
        "analyst's verdict: always flagged) or `cleared` (never flagged). Only with costs, "
        "top_k or threshold.",
    )
    threshold: float | None = Field(
        None,
        description="M / (M + F), or the threshold given: users with p >= threshold are "
        "flagged. Only with costs, top_k or threshold; null in top_k mode.",
    )
    n_flagged: int | None = Field(
        None,
        description="How many users are flagged. Only with costs, top_k or threshold.",
    )
    expected_cost: float | None = Field(
        None,
        description="The cost the probabilities predict for these flags: sum of (1 - p) * M "
        "over flagged users plus p * F over the others. Only with costs (with or without "
        "top_k).",
    )
    expected_cost_interval: list[float] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="[low, high]: the realised cost falls in this range with probability 90% "
        "if the probabilities are calibrated (each flagged user is real with probability "
        "1 - p, each other user fake with probability p). Only with expected_cost.",
    )
    warnings: list[str] = Field(
        description="What looked wrong in the log but did not stop it from being read."
    )
    applicability: Applicability = Field(
        description="Whether the model fits this log, and why: read `status` before acting on "
        "the flags."
    )
    reasons: list[list[Reason]] | None = Field(
        None,
        description="Only with reasons=true: aligned with UserId, each user's reasons, "
        "strongest first (an empty list when no feature pushes the user towards fake).",
    )


class ModelCard(BaseModel):
    """A model card as the store keeps it (``model.json``); extra keys may appear."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    name: str = Field(description="The model name.")
    version: int | None = Field(
        None, description="The version (1, 2, ...): NAME@VERSION names exactly this model."
    )
    schema_: int | None = Field(
        None, alias="schema", description="The card format (2); older models must be retrained."
    )
    created: str | None = Field(None, description="When it was saved (UTC, ISO 8601).")
    model_type: str | None = Field(None, description="One of: " + ", ".join(MODEL_TYPES) + ".")
    params: dict[str, Any] | None = Field(None, description="The estimator's parameters.")
    vocabulary: dict[str, Any] | None = Field(
        None, description="The events and categories the model knows, and whether it uses time."
    )
    features: list[str] | None = Field(None, description="The per-user features, in order.")
    training: dict[str, Any] | None = Field(
        None,
        description="The training log: files, fingerprint_sha256, rows, users, fake_share, "
        "timestamps. Scoring this log again gives the out-of-fold probabilities.",
    )
    cv: dict[str, Any] | None = Field(
        None,
        description="Cross-validated metrics over users: roc_auc, average_precision, brier, "
        "log_loss and a 10-bin reliability table.",
    )
    bundle_sha256: str | None = Field(None, description="sha256 of the fitted bundle (skops).")
    bundle_bytes: int | None = Field(None, description="Size of the fitted bundle.")
    libraries: dict[str, str] | None = Field(
        None, description="Library versions at training (python, scikit-learn, skops, ...)."
    )
    default: bool | None = Field(
        None,
        description="Whether this is the store's default model, the one /predict uses when "
        "no model is named. In GET /models, GET /models/{name}/versions and POST /train.",
    )
    n_versions: int | None = Field(None, description="In GET /models: how many versions exist.")
    current: bool | None = Field(
        None,
        description="In GET /models/{name}/versions: whether NAME alone means this version.",
    )
    error: str | None = Field(
        None, description="In lists, only on models that cannot be used: why, and what to do."
    )


class TrainResponse(ModelCard):
    warnings: list[str] = Field(
        description="What looked wrong in the training log (not stored in the card)."
    )


def predict_body_doc() -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of ``/predict``: four body types, one set of options."""
    options = PredictOptions.model_json_schema()["properties"]
    return {
        "required": True,
        "description": "The log, in one of four forms. Options (model, cost_fp, cost_fn, "
        "top_k, threshold, overlaps) go in the JSON object or form fields, or in the query "
        "string; each at most once.",
        "content": {
            "application/json": {"schema": PredictRequest.model_json_schema()},
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "A CSV log with header UserId,Event,Category[,Fake]"
                    "[,Timestamp]; plain or gzip-compressed.",
                },
                "example": "UserId,Event,Category\n42926269,click_ad,Motor\n"
                "42926269,send_email,Motor\n56620948,phone_call,Jobs\n",
            },
            "application/vnd.apache.parquet": {
                "schema": {
                    "type": "string",
                    "format": "binary",
                    "description": "A Parquet log with columns UserId, Event, Category[, Fake]"
                    "[, Timestamp], typed or as strings. Also accepted as "
                    "application/octet-stream (then a CSV or .csv.gz body is read as well).",
                },
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "One or more logs (CSV, .csv.gz or .parquet), "
                            "read as one log.",
                        },
                        **options,
                    },
                    "additionalProperties": False,
                }
            },
        },
    }
