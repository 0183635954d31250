"""Rossmann Store Sales: predict daily sales of 1,115 German drug stores for 48 days (scored by RMSPE)."""

from pipelines.registry import lazy_steps
from pipelines.rossmann.backtest import BACKTEST
from pipelines.rossmann.config import SPEC, RossmannConfig
from pipelines.rossmann.features import build as build_features

Config = RossmannConfig
DISTRIBUTED = True  # `make train NPROC=2` runs the seeds data-parallel under torchrun


def _model():
    from pipelines.rossmann import model  # torch (~1 s, ~0.5 GB of memory): download and features never need it

    return model


def _report():
    from pipelines.rossmann import report  # make report: the embedding map and permutation importance

    return report


train, lr_find, predict, submit = lazy_steps(_model, ("train", "lr_find", "predict", "submit"))
(report_sections,) = lazy_steps(_report, ("report_sections",))
HEADLINE = "valid_rmspe"  # make runs / make report: the blend's RMSPE on the validation days (lower is better)
__all__ = ["HEADLINE", "BACKTEST", "DISTRIBUTED", "SPEC", "Config", "build_features", "train", "lr_find", "predict"]
__all__ += ["submit", "report_sections"]
