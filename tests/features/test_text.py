"""Free text as numbers (features.text): lengths, words and TF-IDF components, an id refused, nothing learned from
a label."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from features.text import text_features


def descriptions(n: int, seed: int = 0) -> tuple[pd.Series, np.ndarray]:
    """Descriptions of filler words, a third of them with the word 'friendly' (the signal), some missing."""
    rng = np.random.default_rng(seed)
    filler = "the a pet is very and with to of for home loves food play walk sleep".split()
    friendly = rng.random(n) < 1 / 3
    text = [
        " ".join(["This", *rng.choice(filler, rng.integers(3, 12)), *(["friendly"] if f else [])]) for f in friendly
    ]
    series = pd.Series(text, name="Description")
    series[::50] = None
    return series, friendly


def test_lengths_words_and_components_for_train_and_test():
    text, friendly = descriptions(600)
    train, test, said, _ = text_features(text[:400], text[400:].reset_index(drop=True), dims=8, words=30)
    counted = [c.removeprefix("Description_word_") for c in train if c.startswith("Description_word_")]
    assert "friendly" in counted and "this" in counted and len(counted) == 18  # 16 fillers, this (every text), friendly
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
        "Description: free text as Description_chars, Description_words, 18 words' counts (Description_word_this, "
    )
    assert re.search(r"Description_svd0..7, the top components of the TF-IDF of \d{3} words and pairs", said)
    known = text.notna().to_numpy()  # a missing text has no word
    assert (train.Description_word_friendly == (friendly & known)[:400]).all()
    assert test.Description_word_friendly.sum() == (friendly & known)[400:].sum() > 0


def test_the_same_texts_give_the_same_numbers():
    text, _ = descriptions(300)
    once = text_features(text[:200], text[200:], dims=4)
    again = text_features(text[:200].copy(), text[200:].copy(), dims=4)
    pd.testing.assert_frame_equal(once[0], again[0])
    pd.testing.assert_frame_equal(once[1], again[1])


def test_the_words_are_train_texts_words_each_in_20_texts_at_least():
    """A word of its own column is chosen in train's texts (a word only the test has teaches nothing), in 20 of
    them at least (a surname of two passengers, scaled, is a z-score of 30 the network overfits on)."""
    surnames = ["Sur" + "".join(chr(97 + int(d)) for d in str(i // 2)) for i in range(300)]  # two of each
    names = [f"{t} {s}" for t, s in zip(["Mr", "Mrs", "Miss"] * 100, surnames, strict=True)]
    train = pd.Series(names[:200] + ["Dr Who"] * 19, name="Name")
    test = pd.Series(names[200:] + ["Rev X"] * 50, name="Name")
    on_train, on_test, said, _ = text_features(train, test, dims=2, words=100)
    words = sorted(c for c in on_train if c.startswith("Name_word_"))
    assert words == ["Name_word_miss", "Name_word_mr", "Name_word_mrs"]  # Dr in 19 texts, Rev only in the test's
    assert "3 words' counts (Name_word_mr, Name_word_mrs, Name_word_miss)" in said  # commonest first; all 3: no ...
    assert on_test.Name_word_mr.sum() == 33 and (on_test.Name_word_mr.iloc[-50:] == 0).all()
    assert "no word in 20 texts" in text_features(train[:30], test, dims=2, words=100)[2]
    cabins = pd.Series([f"{'ABC'[i % 3]}{i}" for i in range(300)], name="Cabin")  # C85: deck C, number 85
    decks = text_features(cabins[:200], cabins[200:], dims=2, words=100)[0]
    assert sorted(c for c in decks if "_word_" in c) == ["Cabin_word_a", "Cabin_word_b", "Cabin_word_c"]
    coded = pd.Series([f"F{i % 5} L{i % 7}" for i in range(300)], name="Name")  # F and L once in every name
    words = [c for c in text_features(coded[:200], coded[200:], dims=2, words=100)[0] if "_word_" in c]
    assert words and not {"Name_word_f", "Name_word_l"} & set(words)


def test_a_code_of_its_own_per_row_is_no_text_and_a_fixed_length_is_no_feature():
    ids = pd.Series([f"ID_{i:06d}" for i in range(300)], name="ref")
    assert text_features(ids[:200], ids[200:], dims=4) is None  # no word in two rows: nothing to share
    cabins = pd.Series([f"{'ABC'[i % 3]}/{i % 90}/{'PS'[i % 2]}" for i in range(300)], name="Cabin")
    train, _, said, _ = text_features(cabins[:200], cabins[200:], dims=4)
    assert "Cabin_words" not in train and "Cabin_svd3" in train  # three words each: a constant
    assert "Cabin_chars" in train  # B/7/P and B/77/P: lengths differ


def test_fewer_components_than_texts():
    rng = np.random.default_rng(0)
    words = pd.Series([" ".join(rng.choice([f"w{i}" for i in range(60)], 40)) for _ in range(25)], name="tiny")
    train, test, said, _ = text_features(words[:20], words[20:], dims=32)  # 25 texts, hundreds of shared terms
    assert "tiny_svd0..23" in said and sum("_svd" in c for c in train) == 24


@pytest.mark.parametrize("dims", [1, 50])
def test_fewer_components_where_there_are_fewer_shared_words(dims):
    tags = pd.Series(["red", "blue", "red green", "blue green", "green"] * 20, name="tags")
    train, *_ = text_features(tags[:60], tags[60:], dims=dims)
    svd = [c for c in train if "_svd" in c]
    assert len(svd) == min(dims, 4)  # red, blue, green, red green, blue green: 5 terms, at most 4 components


def test_the_tfidf_kept_for_the_linear_member_holds_words_pairs_and_characters_where_they_fit(monkeypatch):
    """text_features' TF-IDF: train's rows then the test's, rows of unit length (words and pairs; characters'
    2- to 5-grams beside them), a missing text a row of zeros; over CHAR_BUDGET characters, the words only."""
    import features.text as text_module

    text, friendly = descriptions(300)
    built = text_features(text[:200], text[200:], dims=4, words=10)
    assert built.tfidf.shape[0] == 300 and built.tfidf.dtype == np.float32
    norms = np.sqrt(np.asarray(built.tfidf.multiply(built.tfidf).sum(axis=1)).ravel())
    assert np.allclose(norms[text.notna().to_numpy()], np.sqrt(2), atol=1e-5)  # two blocks of unit length
    assert (norms[text.isna().to_numpy()] == 0).all() and "characters' 2- to 5-grams" in built.said
    monkeypatch.setattr(text_module, "CHAR_BUDGET", 100)
    words_only = text_features(text[:200], text[200:], dims=4, words=10)
    assert words_only.tfidf.shape[1] < built.tfidf.shape[1] and "not its characters' n-grams" in words_only.said
    norms = np.sqrt(np.asarray(words_only.tfidf.multiply(words_only.tfidf).sum(axis=1)).ravel())
    assert np.allclose(norms[text.notna().to_numpy()], 1, atol=1e-5)
