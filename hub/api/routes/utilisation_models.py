"""Response models of the utilisation routes: every figure of docs/metrics.md, typed."""

from __future__ import annotations

from pydantic import Field

from hub.api.models import ConcurrentPublic, Group, WindowPublic, _Public


class UsedPublic(_Public):
    hours: int = Field(description="window hours with >= hour_threshold_seconds occupied")
    valid_hours: int = Field(description="window hours with any valid time")
    hour_share: float | None
    days: int = Field(description="local days with >= day_threshold_seconds occupied")
    valid_days: int
    day_share: float | None
    hour_threshold_seconds: float
    day_threshold_seconds: float


class BandsPublic(_Public):
    below_60: float | None = Field(description="share of window bins with U(b) < 60 %")
    from_60_to_100: float | None = Field(description="share of window bins with U(b) >= 60 %")
    peak: float | None


class DwellPublic(_Public):
    count: int
    mean_seconds: float | None
    median_seconds: float | None
    longest_seconds: float | None
    hold_seconds: float = Field(description="gaps shorter than this merge two spells")


class NeverUsedPublic(_Public):
    desks: int = Field(description="desks with valid data but no used day")
    seen_desks: int = Field(description="desks with any valid data in the window")
    share: float | None


class SharingPublic(_Public):
    desks: int
    headcount: int | None = Field(description="the site's configured headcount (site only)")
    desks_per_person: float | None = Field(description="desks / headcount")
    peak_demand: int | None = Field(description="max over bins of desks in use")
    peak_demand_per_desk: float | None = Field(description="peak_demand / desks")


class PresenceSummaryPublic(_Public):
    mean: float | None = Field(description="mean devices over the unsuppressed window bins")
    mean_label: str = Field(description='the mean as text, "< k" or "no data"')
    peak: int | None = Field(description="max devices over the window bins; null below k")
    peak_label: str
    reported_bins: int = Field(description="window bins with a count")
    suppressed_bins: int = Field(description="window bins whose count is below k")
    k: int = Field(description="privacy threshold")
    zones: int = Field(description="zones summed per bin for this group")


class CheckinDayPublic(_Public):
    date: str
    checkins: int | None = Field(description="null when fewer than k people checked in")
    suppressed: bool


class WalkInsPublic(_Public):
    spells: int = Field(description="occupied spells no check-in overlaps")
    uncovered_share: float | None = Field(description="share of occupied time no check-in "
                                          "covers")


class CheckinFiguresPublic(_Public):
    spec_version: str
    k: int = Field(description="privacy threshold: fewer distinct people suppress")
    suppressed: bool
    hours: str = Field(description="check-ins count in all hours of the window's dates")
    checkins: int | None
    checkins_per_day: list[CheckinDayPublic] | None = Field(
        description="site group only; null when suppressed")
    mean_duration_s: float | None
    agreement: float | None = Field(description="share of checked-in time sensed occupied")
    walk_ins: WalkInsPublic | None = Field(description="null for windows over 7 days")


class ReportResultPublic(_Public):
    key: str
    name: str
    desks: int
    occupied_seconds: float
    valid_seconds: float
    window_seconds: float
    time_utilisation: float | None
    coverage: float | None
    used: UsedPublic
    concurrent: ConcurrentPublic
    surplus: int | None = Field(description="min over window bins of valid desks not in use")
    bands: BandsPublic
    dwell: DwellPublic
    never_used: NeverUsedPublic
    sharing: SharingPublic
    zone_presence: PresenceSummaryPublic | None = Field(
        description="metric 10; null for desk groups")
    checkins: CheckinFiguresPublic | None = Field(description="metric 11; null for desk groups")


class SourcePublic(_Public):
    stored_days: int = Field(
        description="local days read from stored day summaries (today's live one included)")
    computed_days: int = Field(description="local days summarised from bin rollups just now")


class ReportPublic(_Public):
    site: str
    group: Group
    window: WindowPublic = Field(description="the analysis window these figures cover")
    bin_seconds: int
    spec_version: str = Field(description="version of the metrics specification")
    coverage: float | None = Field(description="valid time / window time, all desks")
    not_included: dict[str, str] = Field(description="metrics of the spec not in this answer")
    source: SourcePublic
    results: list[ReportResultPublic]


class HeatmapRowPublic(_Public):
    key: str
    name: str
    mean_u: list[list[float | None]] = Field(description="[weekday Mon=0][local hour]")
    bins: list[list[int]] = Field(description="bins with a U(b) behind each cell")


class HeatmapPublic(_Public):
    site: str
    group: Group
    window: WindowPublic
    bin_seconds: int
    spec_version: str
    not_included: dict[str, str] = Field(
        default_factory=dict, description="figures left out of this answer, and why")
    results: list[HeatmapRowPublic]


class SeriesPublic(_Public):
    key: str
    name: str
    occupied_seconds: list[float]
    valid_seconds: list[float]
    in_use: list[int] = Field(description="desks occupied >= half of the bin")
    with_data: list[int] = Field(description="desks with valid data in the bin")
    u: list[float | None] = Field(description="in_use / with_data")


class TimeseriesPublic(_Public):
    site: str
    group: Group
    window: WindowPublic
    bin_seconds: int
    spec_version: str
    not_included: dict[str, str] = Field(
        default_factory=dict, description="figures left out of this answer, and why")
    bins: list[str] = Field(description="local start of each window bin, ISO")
    results: list[SeriesPublic]
