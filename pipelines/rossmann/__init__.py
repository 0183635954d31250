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
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BACKTEST", "DISTRIBUTED", "SPEC", "Config", "build_features", *_MODEL_STEPS]
