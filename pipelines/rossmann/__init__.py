"""Rossmann Store Sales: predict daily sales of 1,115 German drug stores for 48 days (scored by RMSPE)."""

from pipelines.rossmann.backtest import BACKTEST
from pipelines.rossmann.config import SPEC, RossmannConfig
from pipelines.rossmann.features import build as build_features

Config = RossmannConfig
DISTRIBUTED = True  # `make train NPROC=2` runs the seeds data-parallel under torchrun
_MODEL_STEPS = ("train", "lr_find", "predict", "submit")


def __getattr__(name: str):
    # The model steps import torch (~1 s, ~0.5 GB of memory); download and features never need it.
    if name in _MODEL_STEPS:
        from pipelines.rossmann import model

        return getattr(model, name)
    if name == "report_sections":  # make report: the embedding map and permutation importance
        from pipelines.rossmann import report

        return report.report_sections
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


HEADLINE = "valid_rmspe"  # make runs / make report: the blend's RMSPE on the validation days (lower is better)
__all__ = ["HEADLINE", "BACKTEST", "DISTRIBUTED", "SPEC", "Config", "build_features", *_MODEL_STEPS]
