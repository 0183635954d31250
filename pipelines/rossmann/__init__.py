"""Rossmann Store Sales (kaggle.com/c/rossmann-store-sales): daily sales of 1,115 German drug stores for 48 days,
scored by RMSPE. A card on the generic tabular path (pipelines/tabular) with what is Rossmann's own: its feature
function and closure factors (features.py), its settings and external tables (config.py), its embedded sample
(sample.py). README.md: the figures and the decisions behind them."""

from pipelines.rossmann.config import CATEGORIES, DEFAULTS, UNUSED
from pipelines.rossmann.config import SPEC as SPEC  # the files with their columns, the external tables, the sample
from pipelines.rossmann.features import card_features, closure_adjust
from pipelines.tabular import Card

CARD = Card(
    slug="rossmann-store-sales",
    metric="rmspe",
    series=("Store",),
    categories=CATEGORIES,  # numbers in the files that are categories (a weekday, a state holiday's code)
    drop=UNUSED,  # built by the feature function, not used
    features=card_features,  # the course's joins and engineered columns, the store levels (features.py)
    adjust=closure_adjust,  # the RMSPE factors of the open days next to a store's refit (features.py)
    defaults=DEFAULTS,  # the network and LightGBM settings measured for Rossmann (config.py)
)
