"""What load to run: the validated input of a `LoadRunner`."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

SHOP_LOCUSTFILE = Path(__file__).parent / "locustfiles" / "shop.py"


class LoadSpec(BaseModel):
    """A Locust run: who to hit, how hard, for how long, and where the results go."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(description="Base URL the users hit, e.g. the mesh gateway URL.")
    users: int = Field(10, ge=1, description="Concurrent Locust users.")
    spawn_rate: float = Field(10.0, gt=0, description="Users started per second.")
    duration_s: float | None = Field(
        None, gt=0, description="Stop after this many seconds; None runs until stopped."
    )
    locustfile: Path | None = Field(None, description="None means the bundled shop locustfile.")
    user_classes: list[str] = Field(
        default_factory=list, description="User class names to run; empty means all."
    )
    workers: int = Field(0, ge=0, description="0: one process; N: a master and N workers.")
    output_dir: Path = Field(description="Where stream.jsonl, samples and summary.json go.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment for Locust.")
    stop_timeout_s: float = Field(
        0.0, ge=0, description="Time users get to finish their current task when stopping."
    )
    locust_args: list[str] = Field(
        default_factory=list, description="Extra Locust command-line arguments, passed as is."
    )

    @field_validator("host")
    @classmethod
    def _host_is_a_url(cls, host: str) -> str:
        if not host.startswith(("http://", "https://")):
            raise ValueError(f"host must be a URL like http://127.0.0.1:8000, not {host!r}")
        return host.rstrip("/")

    @property
    def resolved_locustfile(self) -> Path:
        return (self.locustfile or SHOP_LOCUSTFILE).resolve()
