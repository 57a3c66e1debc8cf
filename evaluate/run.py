"""Evaluating one or more encoders on the paper's measures: the options (one dataclass, also read from YAML) and
the run that writes ``metrics.json``, ``report.md`` and the figures.

>>> EvalConfig.from_mapping({"model": "all-MiniLM-L6-v2", "k": 5}).models
['all-MiniLM-L6-v2']
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from safe_embed.evaluate.suite import SafeEmbedSuite, SuiteResult

from safe_embed import DEFAULT_MODEL
from safe_embed.errors import ConfigError, SafeEmbedError

logger = logging.getLogger(__name__)


@dataclass
class EvalConfig:
    """``safe-embed evaluate``'s options; a YAML config holds any of these keys (``model`` or ``models``)."""

    models: list[str] = field(default_factory=lambda: [DEFAULT_MODEL])
    data_dir: str | None = None
    out: str | None = None
    k: int = 10
    avg_cosine: str | float = "sample"
    batch_size: int = 64
    device: str | None = None
    tsne: bool = True
    cache: bool = True
    model_path: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.models, str):
            self.models = [self.models]
        if not self.models or not all(isinstance(m, str) for m in self.models):
            raise ConfigError(f"models must be a list of model names or paths, got {self.models!r}.")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ConfigError(f"k {self.k!r} must be an integer of at least 1.")
        if self.model_path and len(self.models) != 1:
            raise ConfigError("model_path applies to a single model. Fix: evaluate one model at a time, or give "
                              "directories as model values.")

    @classmethod
    def from_mapping(cls, d: dict) -> EvalConfig:
        keys = {f.name for f in fields(cls)} | {"model"}
        unknown = sorted(set(d) - keys)
        if unknown:
            raise ConfigError(f"unknown evaluation key(s) {unknown}. Fix: use only {sorted(keys)}.")
        d = dict(d)
        if "model" in d:
            d["models"] = [d.pop("model")] if isinstance(d.get("model"), str) else d.pop("model")
        return cls(**d)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> EvalConfig:
        import yaml

        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}. Fix: give an existing YAML file.")
        try:
            d = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: invalid YAML ({e}).") from None
        if not isinstance(d, dict):
            raise ConfigError(f"{p}: expected a mapping of options, got {type(d).__name__}.")
        try:
            return cls.from_mapping(d)
        except ConfigError as e:
            raise ConfigError(f"{p}: {e}") from None

    def with_overrides(self, **overrides) -> EvalConfig:
        """A copy with the given options set (None means "keep")."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def evaluate_models(config: EvalConfig) -> tuple[list[SuiteResult], dict[str, str], Path]:
    """Run the suite on every model of ``config`` and write the report; returns the results, the models that could
    not be evaluated (with why), and the output directory. A single model that fails raises."""
    from safe_embed.encoders.registry import load_encoder
    from safe_embed.evaluate.report import slug, write_report
    from safe_embed.paths import resolve_data_dir

    data_dir = resolve_data_dir(config.data_dir)
    out = Path(config.out or Path("results") / slug(config.models[0]))
    suite = SafeEmbedSuite.from_data_dir(data_dir, k=config.k, avg_cosine=config.avg_cosine)  # data errors first
    results, failures = [], {}
    for m in config.models:
        t0 = time.perf_counter()
        try:
            enc = load_encoder(m, cache=config.cache, device=config.device, batch_size=config.batch_size,
                               model_path=config.model_path)
            enc.show_progress = True
            if hasattr(enc, "inner"):
                enc.inner.show_progress = True
            results.append(suite.run(enc))
        except SafeEmbedError as e:
            if len(config.models) == 1:
                raise
            logger.warning("skipping %s: %s", m, e)
            failures[m] = str(e)
            continue
        logger.info("%s evaluated in %.1fs", m, time.perf_counter() - t0)
    if not results:
        raise SafeEmbedError("no model could be evaluated: " + "; ".join(f"{m}: {e}" for m, e in failures.items()))
    write_report(results, out, failures, tsne=config.tsne)
    return results, failures, out


def evaluate_model(model: str = DEFAULT_MODEL, data_dir: str | os.PathLike[str] | None = None, k: int = 10,
                   avg_cosine: str | float = "sample", **options) -> SuiteResult:
    """The paper's three measures for one encoder (a registry name, a hub id or a model directory), no report.

    Example (about a minute on 2 CPU cores)::

        evaluate_model("all-MiniLM-L6-v2").safety_challenging_mean  # 0.514
    """
    from safe_embed.encoders.registry import load_encoder
    from safe_embed.paths import resolve_data_dir

    suite = SafeEmbedSuite.from_data_dir(resolve_data_dir(data_dir), k=k, avg_cosine=avg_cosine)
    return suite.run(load_encoder(model, **options))
