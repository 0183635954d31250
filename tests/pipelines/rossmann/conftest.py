"""Fixtures of the Rossmann tests."""

import pytest

from pipelines.rossmann import RossmannConfig, build_features


@pytest.fixture()
def featured(sample_paths):
    """The embedded sample with its features built (default settings)."""
    build_features(sample_paths, RossmannConfig())
    return sample_paths
