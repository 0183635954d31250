"""Free text as numbers (features.text): lengths, words and TF-IDF components, an id refused, nothing learned from
a label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.text import text_features


def descriptions(n: int, seed: int = 0) -> tuple[pd.Series, np.ndarray]:
    """Descriptions of filler words, a third of them with the word 'friendly' (the signal), some missing."""
    rng = np.random.default_rng(seed)
    filler = "the a pet is very and with to of for home loves food play walk sleep".split()
    friendly = rng.random(n) < 1 / 3
    text = [" ".join([*rng.choice(filler, rng.integers(3, 12)), *(["friendly"] if f else [])]) for f in friendly]
    series = pd.Series(text, name="Description")
    series[::50] = None
    return series, friendly


def test_lengths_words_and_components_for_train_and_test():
    text, friendly = descriptions(600)
    train, test, said = text_features(text[:400], text[400:].reset_index(drop=True), dims=8, words=30)
    counted = [c.removeprefix("Description_word_") for c in train if c.startswith("Description_word_")]
    assert "friendly" in counted and len(counted) == 17  # 16 fillers, friendly; "this", in every text, not a column
    svd = [f"Description_svd{j}" for j in range(8)]
    assert list(train.columns) == [
        "Description_chars",
        "Description_words",
        *[f"Description_word_{w}" for w in counted],
        *svd,
    ]
    assert len(train) == 400 and len(test) == 200 and list(test.columns) == list(train.columns)
    assert train.Description_chars.isna().tolist() == text[:400].isna().tolist()  # missing, not an empty text
    assert train.Description_words[1] == len(text[1].split()) and train.Description_chars[1] == len(text[1])
    assert said.startswith(
        "Description: free text as Description_chars, Description_words, 17 words' counts (Description_word_a, "
    )
    assert "Description_svd0..7, the top components of the TF-IDF of 2" in said
    known = text.notna().to_numpy()  # a missing text has no word
    assert (train.Description_word_friendly == (friendly & known)[:400]).all()
    assert test.Description_word_friendly.sum() == (friendly & known)[400:].sum() > 0


def test_the_same_texts_give_the_same_numbers_and_no_label_is_read():
    text, _ = descriptions(300)
    once = text_features(text[:200], text[200:], dims=4)
    again = text_features(text[:200].copy(), text[200:].copy(), dims=4)
    pd.testing.assert_frame_equal(once[0], again[0])
    pd.testing.assert_frame_equal(once[1], again[1])


def test_a_code_of_its_own_per_row_is_no_text_and_a_fixed_length_is_no_feature():
    ids = pd.Series([f"ID_{i:06d}" for i in range(300)], name="ref")
    assert text_features(ids[:200], ids[200:], dims=4) is None  # no word in two rows: nothing to share
    cabins = pd.Series([f"{'ABC'[i % 3]}/{i % 90}/{'PS'[i % 2]}" for i in range(300)], name="Cabin")
    train, _, said = text_features(cabins[:200], cabins[200:], dims=4)
    assert "Cabin_words" not in train and "Cabin_svd3" in train  # three words each: a constant
    assert "Cabin_chars" in train  # B/7/P and B/77/P: lengths differ


@pytest.mark.parametrize("dims", [1, 50])
def test_fewer_components_where_there_are_fewer_shared_words(dims):
    tags = pd.Series(["red", "blue", "red green", "blue green", "green"] * 20, name="tags")
    train, _, _ = text_features(tags[:60], tags[60:], dims=dims)
    svd = [c for c in train if "_svd" in c]
    assert len(svd) == min(dims, 4)  # red, blue, green, red green, blue green: 5 terms, at most 4 components
