"""Fixtures of the Rossmann tests."""

import pandas as pd
import pytest

from pipelines.rossmann.features import card_features


def features_of(raw):
    """card_features on the raw folder's train.csv and test.csv, read as the card reads them."""
    read = lambda name: pd.read_csv(raw / name, low_memory=False, dtype={"Id": str} if name == "test.csv" else None)
    return card_features(read("train.csv"), read("test.csv"), raw)


@pytest.fixture(scope="module")
def featurize():
    """`features_of`: the feature function on a raw folder."""
    return features_of


@pytest.fixture(scope="module")
def joined(rossmann_sample_dir):
    """The embedded sample through the feature function: (train, test)."""
    return features_of(rossmann_sample_dir)
