"""Rossmann Store Sales: predict daily sales of 1,115 German drug stores for 48 days (scored by RMSPE)."""

from pipelines.rossmann.config import FEATURE_KEYS, SPEC, TRAIN_KEYS, RossmannConfig
from pipelines.rossmann.features import build as build_features
from pipelines.rossmann.train import lr_find, predict, submit, train

Config = RossmannConfig
CONFIG_SECTIONS = {"features": FEATURE_KEYS, "train": TRAIN_KEYS}

__all__ = ["CONFIG_SECTIONS", "SPEC", "Config", "build_features", "lr_find", "predict", "submit", "train"]
