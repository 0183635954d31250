"""Free text as numbers (a pet's description, a passenger's name, a cabin B/0/P): its length, the counts of its
commonest words, and the top components of its TF-IDF, for LightGBM and the network to read as they read any
number. The words name what the target may hang on (a pet "friendly" or "sick", a passenger "Mrs"); the components
are the text's topics, which no single word says.

scikit-learn does the work: CountVectorizer (the commonest words), HashingVectorizer (words and word pairs hashed
into a fixed number of columns: no vocabulary of pairs to hold, so a million descriptions fit in memory), the
columns that occur in at least two rows, TfidfTransformer (sublinear counts, idf), TruncatedSVD (latent semantic
analysis). No label is read. The words are chosen in train's texts (a word only the test has teaches nothing); the
components are fitted on train's and the test's texts together, whose topics the submission needs.

The TF-IDF itself (its words and pairs, and its characters' 2- to 5-grams where the texts are short enough to hold
them) is kept too, a sparse matrix of train's rows then the test's, for the linear member
(pipelines/tabular/linear.py): a word no component keeps, an author's spelling, its ngrams still say.
"""

from __future__ import annotations

import re
import time
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

# Words are runs of letters, or of digits, one character long too: a cabin C85's deck C and number 85, B/0/P's
# deck and side, a ticket's PC
TOKEN = r"(?u)[^\W\d_]+|\d+"
HASH_COLUMNS = 2**20  # words and pairs hashed into this many columns (few collisions below ~1M distinct terms)
# A word of its own column is in at least this many of train's texts: as many rows as LightGBM's default leaf
# (a rarer word cannot split off a leaf of its own), and no surname of two passengers scaled to a z-score of 30
# that the network overfits on (trial 47)
MIN_TEXTS = 20
# Characters' 2- to 5-grams of the free text only where a table's texts hold at most this many characters: about 4
# n-grams a character, 2 GB of matrix at the most (Spooky's 27,000 sentences: 4M characters; Mercari's 1.5M
# descriptions, 220M: their words only)
CHAR_BUDGET = 50_000_000


def word_counts(fit: pd.Series, rest: pd.Series, name: str, n: int) -> tuple[pd.DataFrame, list[str]] | None:
    """(the counts in each text of `fit` (train's), then of `rest` (the test's), of the `n` words in most of `fit`'s
    texts, each in MIN_TEXTS of them at least, as columns <name>_word_<word> (<name>_word<j> for a word a column name cannot carry); the
    columns, commonest first). None where no word is shared: none in two of train's texts that is not once in
    every one of them (an id R0000123: its R in every row, its number in one)."""
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(token_pattern=TOKEN, strip_accents="unicode", min_df=2, dtype=np.float32)
    try:
        on_fit = vectorizer.fit_transform(fit)
    except ValueError:  # sklearn's "empty vocabulary" / "no terms remain": no word in two texts
        return None
    varies = (on_fit.min(axis=0).toarray() < on_fit.max(axis=0).toarray()).ravel()  # not once in every text
    if not varies.any():
        return None
    texts = np.bincount(on_fit.indices, minlength=on_fit.shape[1])  # how many of train's texts hold each word
    chosen = np.flatnonzero(varies & (texts >= MIN_TEXTS))
    chosen = chosen[np.argsort(-texts[chosen], kind="stable")][:n]  # commonest first
    words = vectorizer.get_feature_names_out()  # unique and lower case: so are the names
    names = [
        f"{name}_word_{words[j]}" if re.fullmatch(r"[A-Za-z0-9]+", words[j]) else f"{name}_word{j}" for j in chosen
    ]
    counts = np.zeros((len(fit) + len(rest), len(chosen)), np.float32)
    if len(chosen):  # train's as counted already; the test's read once
        counts[: len(fit)] = on_fit[:, chosen].toarray()
        counts[len(fit) :] = vectorizer.transform(rest)[:, chosen].toarray()
    return pd.DataFrame(counts, columns=names), names


class TextFeatures(NamedTuple):
    train: pd.DataFrame  # train's new numeric columns
    test: pd.DataFrame  # the test's
    said: str  # a line saying what was built
    tfidf: sp.csr_matrix  # train's rows then the test's: the TF-IDF of words, pairs (and characters' n-grams)


def text_features(
    train: pd.Series, test: pd.Series, dims: int, words: int = 0, seed: int = 0, chars: bool | None = None
) -> TextFeatures | None:
    """The text column `train` / `test` as numbers: <name>_chars and <name>_words (missing where the text is; left
    out where every row has the same), the counts of its `words` commonest words (word_counts), and
    <name>_svd0..<dims-1>, the top components of the TF-IDF of its words and word pairs; and that TF-IDF, with
    its characters' n-grams (char_tfidf) where `chars` (None: where this column's texts fit CHAR_BUDGET). None
    where train's texts share no word (word_counts): an id, a code of its own per row, that carries nothing another row could share."""
    from sklearn.decomposition import TruncatedSVD

    t0, name = time.perf_counter(), str(train.name)
    both = pd.concat([train, test], ignore_index=True)
    if len(both) >= 100_000:  # a minute or two a million texts (2 cores): said before, not only after
        print(f"{name}: reading the words of {len(both):,} texts ...", flush=True)
    text = both.fillna("").astype(str)
    common = word_counts(text[: len(train)], text[len(train) :], name, words)
    if common is None:
        return None
    counts = hashed(text, ngram_range=(1, 2), token_pattern=TOKEN)  # words and word pairs
    # words from the counts hashed: n words make n words and n - 1 pairs (pyarrow's regex engine lacks the (?u) of
    # TOKEN, and Python's re row by row takes seconds a million rows)
    terms = np.asarray(counts.sum(axis=1)).ravel()
    missing = both.isna().to_numpy()
    lengths = {"chars": text.str.len(), "words": np.where(terms > 0, (terms + 1) // 2, 0)}
    lengths = {f"{name}_{what}": np.where(missing, np.nan, n).astype(np.float32) for what, n in lengths.items()}
    lengths = {c: n for c, n in lengths.items() if pd.Series(n).nunique() > 1}  # a code's fixed length: nothing
    parts, said = [pd.DataFrame(lengths), common[0]], list(lengths)
    if words:
        shown = ", ".join(common[1][:3]) + (", ..." if len(common[1]) > 3 else "")
        said.append(f"{len(common[1])} words' counts ({shown})" if common[1] else f"no word in {MIN_TEXTS} texts")
    tfidf = shared_tfidf(counts)
    del counts
    if dims and tfidf.shape[1] >= 2:
        k = min(dims, tfidf.shape[1] - 1, len(text) - 1)  # TruncatedSVD: fewer components than terms and texts
        topics = TruncatedSVD(n_components=k, random_state=seed).fit_transform(tfidf).astype(np.float32)
        parts.append(pd.DataFrame(topics, columns=[f"{name}_svd{j}" for j in range(k)]))
        said.append(f"{name}_svd0..{k - 1}, the top components of the TF-IDF of {tfidf.shape[1]:,} words and pairs")
    characters = int(text.str.len().sum())
    if chars or (chars is None and characters <= CHAR_BUDGET):
        tfidf = sp.hstack([tfidf, char_tfidf(text)], format="csr")
        said.append("its characters' 2- to 5-grams for the linear member")
    else:
        said.append(f"not its characters' n-grams (the free text's characters over {CHAR_BUDGET:,})")
    out = pd.concat(parts, axis=1)
    said = f"{name}: free text as {', '.join(said)} ({time.perf_counter() - t0:.1f} s)"
    return TextFeatures(out[: len(train)].reset_index(drop=True), out[len(train) :].reset_index(drop=True), said, tfidf)


def char_tfidf(text: pd.Series) -> sp.csr_matrix:
    """The TF-IDF of the texts' characters' 2- to 5-grams within words (an author's "eth", a misspelling's)."""
    return shared_tfidf(hashed(text, analyzer="char_wb", ngram_range=(2, 5)))


def hashed(text: pd.Series, **terms) -> sp.csr_matrix:
    """Each text's counts of its terms (scikit-learn's HashingVectorizer: words and pairs, or characters' n-grams, as
    `terms` says), hashed into HASH_COLUMNS columns: no vocabulary to hold, so a million texts fit."""
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        n_features=HASH_COLUMNS, strip_accents="unicode", alternate_sign=False, norm=None, dtype=np.float32, **terms
    ).transform(text)


def shared_tfidf(counts: sp.csr_matrix) -> sp.csr_matrix:
    """The TF-IDF (sublinear counts, idf) of the hashed columns that occur in two texts at least."""
    from sklearn.feature_extraction.text import TfidfTransformer

    shared = np.flatnonzero(np.bincount(counts.indices, minlength=HASH_COLUMNS) >= 2)
    return TfidfTransformer(sublinear_tf=True).fit_transform(counts[:, shared]).astype(np.float32, copy=False)
