"""Rossmann Store Sales: predict daily sales of 1,115 German drug stores for 48 days (scored by RMSPE)."""

from pipelines.rossmann.config import FEATURE_KEYS, SPEC, RossmannConfig
from pipelines.rossmann.features import build as build_features

Config = RossmannConfig
CONFIG_SECTIONS = {"features": FEATURE_KEYS}

__all__ = ["CONFIG_SECTIONS", "SPEC", "Config", "build_features"]
