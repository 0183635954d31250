"""Free text as numbers (a pet's description, a passenger's name, a cabin B/0/P): its length, the counts of its
commonest words, and the top components of its TF-IDF, for LightGBM and the network to read as they read any
number. The words name what the target may hang on (a pet "friendly" or "sick", a passenger "Mrs"); the components
are the text's topics, which no single word says.

scikit-learn does the work: CountVectorizer (the commonest words), HashingVectorizer (words and word pairs hashed
into a fixed number of columns: no vocabulary of pairs to hold, so a million descriptions fit in memory), the
columns that occur in at least two rows, TfidfTransformer (sublinear counts, idf), TruncatedSVD (latent semantic
analysis). No label is read. The words are chosen in train's texts (a word only the test has teaches nothing); the
components are fitted on train's and the test's texts together, whose topics the submission needs.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd

# Words are runs of letters, or of digits, one character long too: a cabin C85's deck C and number 85, B/0/P's
# deck and side, a ticket's PC
TOKEN = r"(?u)[^\W\d_]+|\d+"
HASH_COLUMNS = 2**20  # words and pairs hashed into this many columns (few collisions below ~1M distinct terms)
# A word of its own column is in at least this many of train's texts: as many rows as LightGBM's default leaf
# (a rarer word cannot split off a leaf of its own), and no surname of two passengers scaled to a z-score of 30
# that the network overfits on (trial 47)
MIN_TEXTS = 20


def word_counts(fit: pd.Series, text: pd.Series, name: str, n: int) -> tuple[pd.DataFrame, list[str]]:
    """(the counts in each of `text` of the `n` words in most of the texts `fit` (train's), each in MIN_TEXTS of
    them at least and not once in every one of them, as columns <name>_word_<word> (<name>_word<j> for a word a
    column name cannot carry); the columns, commonest first)."""
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(
        token_pattern=TOKEN, strip_accents="unicode", min_df=MIN_TEXTS, max_features=n, dtype=np.float32
    )
    try:
        vectorizer.fit(fit)
    except ValueError:  # sklearn's "no terms remain": no word in MIN_TEXTS texts
        return pd.DataFrame(index=range(len(text))), []
    counts = vectorizer.transform(text).toarray()
    names = [
        f"{name}_word_{word}" if re.fullmatch(r"[A-Za-z0-9]+", word) else f"{name}_word{j}"
        for j, word in enumerate(vectorizer.get_feature_names_out())
    ]  # words are unique and lower case: so are these
    on_fit = counts[: len(fit)]
    keep = np.flatnonzero(on_fit.min(0) < on_fit.max(0))  # not a word once in every text (the F of names F287)
    commonest = keep[np.argsort(-(on_fit[:, keep] > 0).sum(0), kind="stable")]  # in most of train's texts first
    return pd.DataFrame(counts[:, keep], columns=[names[j] for j in keep]), [names[j] for j in commonest]


def text_features(
    train: pd.Series, test: pd.Series, dims: int, words: int = 0, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, str] | None:
    """(train's, test's new numeric columns, a line saying what was built) for the text column `train` / `test`:
    <name>_chars and <name>_words (missing where the text is; left out where every row has the same), the counts
    of its `words` commonest words (word_counts), and <name>_svd0..<dims-1>, the top components of the TF-IDF of
    its words and word pairs. None where no word occurs in two rows: an id, a code of its own per row, that carries
    nothing another row could share."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

    t0, name = time.perf_counter(), str(train.name)
    both = pd.concat([train, test], ignore_index=True)
    if len(both) >= 100_000:  # a minute or two a million texts (2 cores): said before, not only after
        print(f"{name}: reading the words of {len(both):,} texts ...", flush=True)
    text = both.fillna("").astype(str)
    hashed = HashingVectorizer(
        n_features=HASH_COLUMNS,
        ngram_range=(1, 2),
        token_pattern=TOKEN,
        strip_accents="unicode",
        alternate_sign=False,
        norm=None,
        dtype=np.float32,
    ).transform(text)
    shared = np.flatnonzero(np.bincount(hashed.indices, minlength=HASH_COLUMNS) >= 2)  # in two rows at least
    if len(shared) < 2:
        return None
    # words from the counts hashed: n words make n words and n - 1 pairs (pyarrow's regex engine lacks the (?u) of
    # TOKEN, and Python's re row by row takes seconds a million rows)
    terms = np.asarray(hashed.sum(axis=1)).ravel()
    missing = both.isna().to_numpy()
    lengths = {"chars": text.str.len(), "words": np.where(terms > 0, (terms + 1) // 2, 0)}
    lengths = {f"{name}_{what}": np.where(missing, np.nan, n).astype(np.float32) for what, n in lengths.items()}
    lengths = {c: n for c, n in lengths.items() if pd.Series(n).nunique() > 1}  # a code's fixed length: nothing
    parts = [pd.DataFrame(lengths)]
    said = list(lengths)
    if words:
        counts, commonest = word_counts(text[: len(train)], text, name, words)
        parts.append(counts)
        shown = ", ".join(commonest[:3]) + (", ..." if len(commonest) > 3 else "")
        said.append(f"{len(commonest)} words' counts ({shown})" if commonest else f"no word in {MIN_TEXTS} texts")
    if dims:
        tfidf = TfidfTransformer(sublinear_tf=True).fit_transform(hashed[:, shared])
        k = min(dims, len(shared) - 1)
        topics = TruncatedSVD(n_components=k, random_state=seed).fit_transform(tfidf).astype(np.float32)
        parts.append(pd.DataFrame(topics, columns=[f"{name}_svd{j}" for j in range(k)]))
        said.append(f"{name}_svd0..{k - 1}, the top components of the TF-IDF of {len(shared):,} words and pairs")
    out = pd.concat(parts, axis=1)
    said = f"{name}: free text as {', '.join(said)} ({time.perf_counter() - t0:.1f} s)"
    return out[: len(train)].reset_index(drop=True), out[len(train) :].reset_index(drop=True), said
