"""Typed models of a Chaos Toolkit experiment plus our extension keys.

Our keys (`target`, `load`, `guardrails`, `runbook`, `teaches`, `hypothesis_frequency_s`)
are written under `extensions: [{name: gameday, ...}]` (see `chaos.experiment.extension`);
the loader lifts them into `Experiment`'s fields so the rest of the code reads one model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_PAUSE_S = 3600.0
TargetKind = Literal["local", "mesh", "k8s", "none"]
GuardrailMetric = Literal["error_rate", "p50", "p90", "p95", "p99", "max", "rps"]


class Pauses(BaseModel):
    model_config = ConfigDict(extra="forbid")

    before: float = Field(0.0, ge=0, le=MAX_PAUSE_S)
    after: float = Field(0.0, ge=0, le=MAX_PAUSE_S)


class Provider(BaseModel):
    """`python` (module + func + arguments), `http` (url) or `process` (path)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["python", "http", "process"]
    module: str | None = None
    func: str | None = None
    arguments: dict[str, Any] | list[Any] | str | None = None
    url: str | None = None
    path: str | None = None
    timeout: float | list[float] | None = None

    @model_validator(mode="after")
    def _required_fields(self) -> Provider:
        required = {"python": ("module", "func"), "http": ("url",), "process": ("path",)}
        missing = [name for name in required[self.type] if not getattr(self, name)]
        if missing:
            raise ValueError(f"a {self.type} provider needs {' and '.join(missing)}")
        if (
            self.type == "python"
            and self.arguments is not None
            and not isinstance(self.arguments, dict)
        ):
            raise ValueError("python provider arguments must be a mapping of name to value")
        return self


class Activity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["probe", "action"] | None = None
    name: str | None = Field(None, min_length=1)
    ref: str | None = None
    provider: Provider | None = None
    tolerance: Any = None
    pauses: Pauses | None = None
    background: bool = False
    controls: list[dict[str, Any]] = Field(default_factory=list)
    description: str | None = None
    timeout: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _ref_or_definition(self) -> Activity:
        if self.ref is not None:
            return self
        missing = [name for name in ("type", "name", "provider") if getattr(self, name) is None]
        if missing:
            raise ValueError(f"an activity needs {', '.join(missing)} (or a `ref`)")
        return self


class Hypothesis(BaseModel):
    model_config = ConfigDict(extra="allow")

    title: str = Field(min_length=1)
    probes: list[Activity] = Field(default_factory=list)


class Target(BaseModel):
    """Where the experiment runs: `local` (start the bundled mesh), `mesh` (a running
    mesh), `k8s` (a Kubernetes context), `none` (nothing to prepare)."""

    model_config = ConfigDict(extra="forbid")

    kind: TargetKind = "local"
    context: str | None = None
    replicas: dict[str, int] = Field(default_factory=dict)
    topology: str | None = None
    topology_overrides: dict[str, Any] = Field(default_factory=dict)
    mesh_state: str | None = None
    # `local` only: the mesh the run starts also runs a Prometheus scraping every replica.
    prometheus: bool = False

    @field_validator("replicas")
    @classmethod
    def _positive_replicas(cls, value: dict[str, int]) -> dict[str, int]:
        for service, count in value.items():
            if not 1 <= count <= 16:
                raise ValueError(f"replicas of {service} must be between 1 and 16, not {count}")
        return value

    @classmethod
    def parse(cls, text: str) -> Target:
        """`local`, `mesh`, `k8s` or `k8s:CONTEXT` (the `--target` option)."""
        kind, _, context = text.partition(":")
        if kind not in ("local", "mesh", "k8s", "none") or (context and kind != "k8s"):
            raise ValueError(f"target must be local, mesh, k8s, k8s:CONTEXT or none, not {text!r}")
        return cls(kind=kind, context=context or None)  # type: ignore[arg-type]


class LoadProfile(BaseModel):
    """Locust load during the run and the length of the phases around the method."""

    model_config = ConfigDict(extra="forbid")

    users: int = Field(10, ge=1, le=10_000)
    spawn_rate: float = Field(10.0, gt=0, le=10_000)
    locustfile: str | None = None
    user_classes: list[str] = Field(default_factory=list)
    workers: int = Field(0, ge=0, le=64)
    host: str | None = None
    warmup_s: float = Field(3.0, ge=0, le=3600)
    baseline_s: float = Field(5.0, ge=0, le=3600)
    recovery_s: float = Field(5.0, ge=0, le=3600)
    # Load keeps running this long after the rollbacks, so the "after" phase of the
    # report measures real traffic, not the instant between the last check and the stop.
    after_s: float = Field(3.0, ge=0, le=3600)
    ready_timeout_s: float = Field(30.0, gt=0, le=600)

    @field_validator("host")
    @classmethod
    def _host_is_a_url(cls, host: str | None) -> str | None:
        # Checked here, not only by LoadSpec, so the error is located at validate time.
        if host is not None and not host.startswith(("http://", "https://")):
            raise ValueError(f"host must be a URL like http://127.0.0.1:8000, not {host!r}")
        return host


class Guardrail(BaseModel):
    """Abort and roll back when `metric` (a load metric, over consecutive seconds of the live
    load stream) or `promql` (a PromQL query giving one number, evaluated every second
    against the target's Prometheus) is above (or below) a threshold for `for_s` seconds."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    metric: GuardrailMetric | None = None
    promql: str | None = None
    above: float | None = None
    below: float | None = None
    for_s: float = Field(5.0, gt=0, le=3600)
    endpoint: str | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> Guardrail:
        if (self.metric is None) == (self.promql is None):
            raise ValueError("a guardrail needs exactly one of `metric` or `promql`")
        if self.promql is not None and not self.promql.strip():
            raise ValueError("`promql` must be a non-empty PromQL expression")
        if self.promql is not None and self.endpoint is not None:
            raise ValueError("`endpoint` applies to a load `metric`, not to `promql`")
        if (self.above is None) == (self.below is None):
            raise ValueError("a guardrail needs exactly one of `above` or `below`")
        threshold = self.above if self.above is not None else self.below
        assert threshold is not None
        if self.metric == "error_rate" and not 0 <= threshold <= 1:
            raise ValueError(f"an error_rate threshold is a fraction 0–1, not {threshold}")
        if self.metric is not None and threshold < 0:
            raise ValueError(f"a {self.metric} threshold cannot be negative")
        return self

    @property
    def condition(self) -> str:
        op, threshold = (">", self.above) if self.above is not None else ("<", self.below)
        where = f" on {self.endpoint}" if self.endpoint else ""
        measured = self.metric if self.metric is not None else f"promql {self.promql}"
        return f"{measured}{where} {op} {threshold:g} for {self.for_s:g} s"

    def breached(self, value: float | None) -> bool:
        if value is None:
            return False
        return value > self.above if self.above is not None else value < self.below  # type: ignore[operator]


class PrometheusChart(BaseModel):
    """One chart of the report: `promql` over the run, every series it returns."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    promql: str = Field(min_length=1)
    step_s: float = Field(1.0, gt=0, le=300)


class ReportOptions(BaseModel):
    """What the report adds to the run folder's own data."""

    model_config = ConfigDict(extra="forbid")

    prometheus: list[PrometheusChart] = Field(default_factory=list, max_length=12)


class Experiment(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    title: str = Field(min_length=1)
    description: str = Field(min_length=1, description="The Chaos Toolkit requires one.")
    tags: list[str] = Field(default_factory=list)
    configuration: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, Any] = Field(default_factory=dict)
    steady_state_hypothesis: Hypothesis | None = Field(None, alias="steady-state-hypothesis")
    method: list[Activity]
    rollbacks: list[Activity] = Field(default_factory=list)
    controls: list[dict[str, Any]] = Field(default_factory=list)
    target: Target = Field(default_factory=Target)
    load: LoadProfile | None = Field(default_factory=LoadProfile)
    guardrails: list[Guardrail] = Field(default_factory=list)
    report: ReportOptions | None = None
    runbook: str | None = None
    teaches: str | None = None
    hypothesis_frequency_s: float = Field(1.0, ge=0.2, le=300)

    @field_validator("target", mode="before")
    @classmethod
    def _target_shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return Target.parse(value)
        return value

    @field_validator("load", mode="before")
    @classmethod
    def _load_off(cls, value: Any) -> Any:
        return None if value is False else value
