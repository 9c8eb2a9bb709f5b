"""The `data.series` section: forecasting from a table (its own module: schema.py is near the
400-line floor). Present (even empty, `series: {}`) = the table is one or more time series."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class SeriesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    time: str | None = Field(
        None, description="The column that orders the rows: dates or numbers; null = the rows' order."
    )
    window: int | Literal["auto"] = Field(
        "auto",
        description="Past steps one input holds; auto = 2 seasons when season is set, else 24 "
        "(at most a quarter of the training part).",
    )
    horizon: int = Field(1, description="Steps ahead predicted at once (1 = the next step).")
    group: str | None = Field(
        None,
        description="A column naming the series of each row (one series per value); no window crosses two.",
    )
    relative: bool = Field(
        True,
        description="The model sees its window's target values relative to the last one and predicts the change "
        "(its zero is the naive forecast), so a trend past the training range stays in range; false = levels.",
    )
    anchor: Literal["auto", "last", "season"] = Field(
        "auto",
        description="relative: the forecast the model corrects: last = the last value (naive), season = the "
        "value one season before (seasonal naive); auto = the one with the smaller training error.",
    )
    level: bool | Literal["auto"] = Field(
        "auto",
        description="relative: also give the model the target's level (how far it is from its usual values); "
        "auto = when the training part does not trend (a straight line explains under half its variance).",
    )
    season: int | None = Field(
        None, description="Steps per season (12 for monthly data, 7 for daily): the seasonal naive baseline."
    )

    @field_validator("window")
    @classmethod
    def _window(cls, window: int | str) -> int | str:
        if isinstance(window, int) and window < 1:
            raise ValueError("sees no past step; use 1 or more, or auto")
        return window

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, horizon: int) -> int:
        if horizon < 1:
            raise ValueError("predicts nothing; use 1 (the next step) or more")
        return horizon

    @field_validator("season")
    @classmethod
    def _season(cls, season: int | None) -> int | None:
        if season is not None and season < 2:
            raise ValueError("is no season; use the steps of one cycle (12 for months), or null")
        return season
