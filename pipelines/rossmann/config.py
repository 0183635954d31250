"""Rossmann's files, columns and default configuration (plain data; override with CONFIG=file.toml or ARGS)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipelines.config import setting
from pipelines.download import DataSpec
from pipelines.submit import number

# Column dtypes pinned at read time: pandas infers StateHoliday as int when a chunk holds only "0".
RAW_DTYPES = {
    "train.csv": {
        "Store": "int64",
        "DayOfWeek": "int64",
        "Date": "str",
        "Sales": "int64",
        "Customers": "int64",
        "Open": "int64",
        "Promo": "int64",
        "StateHoliday": "str",
        "SchoolHoliday": "int64",
    },
    "test.csv": {
        "Id": "int64",
        "Store": "int64",
        "DayOfWeek": "int64",
        "Date": "str",
        "Open": "float64",
        "Promo": "int64",
        "StateHoliday": "str",
        "SchoolHoliday": "int64",
    },
    "store.csv": {
        "Store": "int64",
        "StoreType": "str",
        "Assortment": "str",
        "CompetitionDistance": "float64",
        "CompetitionOpenSinceMonth": "float64",
        "CompetitionOpenSinceYear": "float64",
        "Promo2": "int64",
        "Promo2SinceWeek": "float64",
        "Promo2SinceYear": "float64",
        "PromoInterval": "str",
    },
    "sample_submission.csv": {"Id": "int64", "Sales": "float64"},
    "store_states.csv": {"Store": "int64", "State": "str"},
    "state_names.csv": {"StateName": "str", "State": "str"},
    "googletrend.csv": {"file": "str", "week": "str", "trend": "int64"},
    "weather.csv": {
        "file": "str",
        "Date": "str",
        "Max_TemperatureC": "int64",
        "Mean_TemperatureC": "int64",
        "Min_TemperatureC": "int64",
        "Dew_PointC": "int64",
        "MeanDew_PointC": "int64",
        "Min_DewpointC": "int64",
        "Max_Humidity": "int64",
        "Mean_Humidity": "int64",
        "Min_Humidity": "int64",
        "Max_Sea_Level_PressurehPa": "int64",
        "Mean_Sea_Level_PressurehPa": "int64",
        "Min_Sea_Level_PressurehPa": "int64",
        "Max_VisibilityKm": "float64",
        "Mean_VisibilityKm": "float64",
        "Min_VisibilitykM": "float64",
        "Max_Wind_SpeedKm_h": "int64",
        "Mean_Wind_SpeedKm_h": "int64",
        "Max_Gust_SpeedKm_h": "float64",
        "Precipitationmm": "float64",
        "CloudCover": "float64",
        "Events": "str",
        "WindDirDegrees": "int64",
    },
}
# What Kaggle scores: Sales per Id, a finite number >= 0.
# The largest daily sales in train.csv are 41,551: a million is a bound no forecast should reach.
SUBMISSION_COLUMNS = {"Sales": number(ge=0, le=1e6)}
COMPETITION_FILES = ("train.csv", "test.csv", "store.csv", "sample_submission.csv")
EXTRA_FILES = ("store_states.csv", "state_names.csv", "googletrend.csv", "weather.csv")


def _make_sample(folder: Path) -> None:
    from pipelines.rossmann.sample import generate

    generate(folder)


SPEC = DataSpec(
    slug="rossmann-store-sales",
    files={name: list(RAW_DTYPES[name]) for name in COMPETITION_FILES},
    extra={name: list(RAW_DTYPES[name]) for name in EXTRA_FILES},
    extra_url="https://files.fast.ai/part2/lesson14/rossmann.tgz",  # the course's external tables
    make_sample=_make_sample,
    max_bytes=2 << 30,  # the real files with the external tables are about 45 MB
)

# The course's variables (fast.ai lesson 6 / v1 rossmann notebook), plus Promo2Active.
CAT_NAMES = [
    "Store",
    "DayOfWeek",
    "Year",
    "Month",
    "Day",
    "StateHoliday",
    "CompetitionMonthsOpen",
    "Promo2Weeks",
    "StoreType",
    "Assortment",
    "PromoInterval",
    "CompetitionOpenSinceYear",
    "Promo2SinceYear",
    "State",
    "Week",
    "Events",
    "Promo_fw",
    "Promo_bw",
    "StateHoliday_fw",
    "StateHoliday_bw",
    "SchoolHoliday_fw",
    "SchoolHoliday_bw",
    "Promo2Active",
    # Weeks since a competitor opened, 1..12, else 0 (features.add_since_features): CompetitionMonthsOpen reads 0
    # in the month after an opening as before one. LightGBM alone (2 seeds, lr 0.15, 600 rounds; `make backtest`,
    # real data, 2 AMD cores, last48 / prev48) on the rows 0-29 days after an opening: RMSPE 0.162 -> 0.134 (13
    # stores) / 0.191 -> 0.132 (15 stores), mean log error +0.049 -> -0.051 / +0.091 -> +0.035; over all rows
    # 0.1062 / 0.1023 -> 0.1075 / 0.1003 (within this screen's seed noise, 0.002-0.005).
    "CompetitionWeeksNew",
    # 1-3 days before / after a state holiday as categories, else 4 (features.build_joined). The network, first fit
    # alone (`make backtest` with members=[nn] refit=false; real data, 2 Intel AMX cores, prev48, seed 0): 0.1004 ->
    # 0.0965 (validation 0.0980 -> 0.0981); its mean log error on the Wednesday before Ascension -0.199 -> -0.135,
    # on the Friday after -0.118 -> -0.081. In the default ensemble (`make backtest`, same machine, last48 / prev48):
    # network 0.0971 / 0.1021 -> 0.0963 / 0.0959, LightGBM 0.0987 / 0.0954 -> 0.0981 / 0.0951, blend 0.0960 /
    # 0.0932 -> 0.09505 / 0.0915. last48's test days hold no holiday: there the gain comes through the blend weights,
    # fitted on validation days that hold the May holidays (network validation 0.0991 -> 0.0966, weight 0.27 -> 0.36).
    "BeforeStateHolidayNear",
    "AfterStateHolidayNear",
]
CONT_NAMES = [
    "CompetitionDistance",
    "Max_TemperatureC",
    "Mean_TemperatureC",
    "Min_TemperatureC",
    "Max_Humidity",
    "Mean_Humidity",
    "Min_Humidity",
    "Max_Wind_SpeedKm_h",
    "Mean_Wind_SpeedKm_h",
    "CloudCover",
    "trend",
    "trend_DE",
    "AfterPromo",
    "BeforePromo",
    "AfterStateHoliday",
    # Capped at 14 days, and so is BeforeSchoolHoliday (features.BEFORE_CAP: the data's end censors them). In the
    # default ensemble (`make backtest`, real data, 2 Intel AMX cores, last48 / prev48): network 0.0963 / 0.0959 ->
    # 0.0973 / 0.0943, LightGBM 0.0981 / 0.0951 -> 0.0974 / 0.0943, blend 0.09505 / 0.0915 -> 0.0947 / 0.0894.
    # Capping BeforePromo as well: LightGBM 0.0974 / 0.1468, blend 0.0951 / 0.1046 (its censored last week read
    # as Christmas).
    "BeforeStateHoliday",
    "AfterSchoolHoliday",
    "BeforeSchoolHoliday",
    "Promo",
    "SchoolHoliday",
    # The six distances above as log(1 + days) too (features.build_joined). In days, the holiday ones run to months
    # (std 21-33 days on the training rows), and the network reads them normalized: around Easter 2015 (prev48's
    # validation days) its mean log error ran -0.19 on the Wednesday before and +0.08..+0.14 ten to thirteen days
    # after. Network alone, first fit (`make backtest` with members=[nn] refit=false; real data, 2 AMD cores,
    # last48 / prev48): days only 0.1069 / 0.1148 (seed 1: 0.1065 / 0.1154), validation 0.1134 / 0.1167; both
    # 0.1070 / 0.1065, validation 0.1021 / 0.0989. Logs in place of the days (with StoreDowLevel): 0.1093 / 0.1062
    # (seed 1: 0.1118 / 0.1087), and in the default ensemble network 0.1074 / 0.1072, LightGBM 0.1017 / 0.0963,
    # blend 0.1012 / 0.0959 against 0.1039 / 0.1133, 0.1012 / 0.0965, 0.1003 / 0.0962 in days: the log alone
    # helped prev48 and lost last48. Capped at 14 days (tried, not kept): 0.1065 / 0.1077 (network), LightGBM
    # 0.1012 -> 0.1026 on last48; read as categories: 0.1101 / 0.1132 (its validation days: 0.0956 / 0.0986).
    *[f"{side}{ev}Log" for ev in ("Promo", "StateHoliday", "SchoolHoliday") for side in ("After", "Before")],
    # Each store's level on each weekday over the 364 days ending level_lag days before the row (features.py).
    # Measured by `make backtest` (real data, 2 AMD cores, RMSPE on the hidden 48 days, last48 / prev48): LightGBM
    # alone without embeddings 0.1207 / 0.1130 -> 0.1117 / 0.1034 (seed 0), 0.1177 / 0.1157 -> 0.1097 / 0.1083 (seed
    # 1); the default ensemble: blend 0.1064 / 0.0997 -> 0.1032 / 0.0998, LightGBM 0.1118 / 0.1026 -> 0.1052 / 0.1017,
    # network 0.1078 / 0.1134 -> 0.1135 / 0.1134.
    "StoreDowLevel",
    # Each store's recent level (mean log sales over 91 days, ending 48 days before the row: the store-level drift
    # the error analysis found). LightGBM alone screened it as neutral (below); in the default ensemble (network
    # without StoreDowLevel, LightGBM lr 0.05) it improved every member on both windows, last48 / prev48: network
    # 0.1060 / 0.1139 -> 0.1039 / 0.1133, LightGBM 0.1019 / 0.0976 -> 0.1012 / 0.0965, blend 0.1008 / 0.0976 ->
    # 0.1003 / 0.0962 (one seed: gains of this size are within a seed's noise for any one member).
    "StoreLevel",
    # Each store's log sales relative to the day's mean over all stores, averaged over the 28 days ending at the row's
    # forecast origin (features.build_joined: the last day of train.csv for the test days, simulated origins every
    # level_lag days for the training rows), where StoreLevel's data ends 48 days back. `make backtest` (real data, 2
    # Intel AMX cores, bf16; last48 / prev48; before: the same default on Intel for last48, on AMD for prev48, which
    # agreed within 0.0003 on last48): network 0.0990 / 0.1015 -> 0.0988 / 0.1009, LightGBM 0.0986 / 0.0945 ->
    # 0.0975 / 0.0947, blend 0.0968 / 0.0928 -> 0.0957 / 0.0935 (validation: blend 0.0911 / 0.0895 -> 0.0908 /
    # 0.0892). Kept for the mean of the two windows (0.0948 -> 0.0946), the network's gains on both and the stores it
    # fixes (last48's most improved had drifted since StoreLevel's window: store 1081's squared error 1.54 -> 0.51);
    # prev48's blend lost 0.0007. LightGBM alone (2 seeds, lr 0.15, 600 rounds, no embeddings): 0.1084 / 0.1018 ->
    # 0.1065 / 0.1017; in raw log sales (not relative to the day's mean) 0.1069 / 0.1048: the 28 days before
    # prev48's origin hold Easter, and the trees over-predicted the window by 2%; with OriginDays (the days since
    # the origin) beside it 0.1064 / 0.1050.
    "StoreRecent",
]
# Built for every run but not used by default: each measured on top of StoreDowLevel by LightGBM alone as above (seed
# 0, last48 / prev48; without them 0.1117 / 0.1034, and seed 1 moved that by -0.0020 / +0.0049): StoreLevel (now a
# default, above) 0.1087 / 0.1039, PromoDay 0.1090 / 0.1050, the nine week counts 0.1097 / 0.1052, DaysToMonthEnd
# 0.1082 / 0.1060, After/BeforeClosed 0.1092 / 0.1169, StoreYearAgo 0.1116 / 0.1087 (the same protocol, base re-run at
# the same time: 0.1117 / 0.1034); with StoreLevel in the base (0.1087 / 0.1039, re-run beside it),
# After/BeforeLongClosed 0.1096 / 0.1063, no better even on the rows within 30 days of a long closure (100 / 28 rows:
# their summed squared relative error 45.9 -> 48.5, 7.0 -> 9.1). None helps on both windows beyond seed noise. Add
# one with ARGS='cont_names=[...,"PromoDay"]' to try.
OPTIONAL_CONT_NAMES = [
    "PromoDay",
    *[f"{ev}_{w}_week" for ev in ("Promo", "StateHoliday", "SchoolHoliday") for w in ("last", "this", "next")],
    "DaysToMonthEnd",
    "AfterClosed",
    "BeforeClosed",
    "StoreYearAgo",
    "AfterLongClosed",
    "BeforeLongClosed",
    "OriginDays",
]


@dataclass
class RossmannConfig:
    """Everything that shapes a Rossmann run (`make config COMP=rossmann` lists it); the fields with
    step="features" are the ones the feature step depends on."""

    # --- features ---
    # validation = the last N days of train (the test period's length); 0 = no hold-out
    valid_days: int = setting(48, ge=0, le=3650, step="features")
    # the categorical columns both members read (CAT_NAMES above)
    cat_names: list[str] = setting(factory=lambda: list(CAT_NAMES), step="features")
    # the continuous columns both members read (CONT_NAMES above; OPTIONAL_CONT_NAMES may be added)
    cont_names: list[str] = setting(factory=lambda: list(CONT_NAMES), step="features")
    event_window: int = setting(7, ge=1, step="features")  # days in the backward/forward event-count windows
    # StoreLevel looks back from this many days before each row (>= the test horizon: no leak)
    level_lag: int = setting(48, ge=0, le=3650, step="features")
    level_window: int = setting(91, ge=1, step="features")  # ... over this many days of the store's log sales

    # --- model: entity embeddings + MLP (fast.ai course defaults) ---
    # hidden layer widths of the entity-embedding network
    layers: list[int] = setting(factory=lambda: [1000, 500], ge=1)
    # Dropout after each hidden layer and on the embeddings. The course uses ps=[0.001, 0.01], emb_drop=0.04;
    # on the real data (10 epochs, last 48 days held out) these stronger values scored 0.1140 vs 0.1163 RMSPE.
    ps: list[float] = setting(factory=lambda: [0.1, 0.3], ge=0, lt=1)
    emb_drop: float = setting(0.1, ge=0, lt=1)  # dropout on the concatenated embeddings
    emb_sizes: list[str] = setting(factory=list)  # overrides of the width rule, e.g. ["Store=50"]
    y_range_mult: float = setting(1.2, gt=0)  # sigmoid output on [0, y_range_mult * log(max Sales)]
    # Processed columns the network leaves out (the boosting member still reads every column). StoreDowLevel
    # helps the trees but not the network: `make backtest` (real data, 2 AMD cores, LightGBM lr 0.15, last48 /
    # prev48) with it excluded here: network 0.1135 / 0.1134 -> 0.1060 / 0.1139, LightGBM (fed the network's
    # embeddings) 0.1048 / 0.1013 -> 0.1040 / 0.0998, blend 0.1028 / 0.0996 -> 0.1017 / 0.0973. With the event
    # durations capped at 14 days it helped the network alone (first fit 0.1069 / 0.1092 -> 0.1065 / 0.1077; see
    # the ...Log columns in CONT_NAMES).
    nn_exclude: list[str] = setting(factory=lambda: ["StoreDowLevel"], member="nn")

    # --- training ---
    # "sales": Open==1 and Sales>0 (as the course); "open": every open day
    train_rows: Literal["sales", "open"] = "sales"
    epochs: int = setting(10, ge=1, le=1000)  # 5 (the course) scored 0.1245; 10 scored 0.1163; 15 no better (0.1160)
    # peak lr of the schedule (1e-3, the course value, scored 0.1124 vs 0.1076 on seed 0)
    lr: float = setting(3e-3, gt=0, le=10)
    schedule: Literal["one_cycle", "sgdr", "constant"] = "one_cycle"  # one_cycle | sgdr | constant
    pct_start: float = setting(0.25, gt=0, lt=1)  # one_cycle: share of training spent warming up
    cycle_len: int = setting(1, ge=1)  # sgdr: epochs of the first cycle
    cycle_mult: int = setting(2, ge=1)  # sgdr: each cycle this many times longer than the last
    bs: int = setting(512, ge=2, le=1 << 20)  # rows per batch
    wd: float = setting(0.2, ge=0)  # decoupled weight decay (AdamW), not applied to biases and BatchNorm
    adam_eps: float = setting(1e-5, gt=0)  # AdamW's epsilon
    clip: float = setting(0.0, ge=0)  # max gradient norm; 0 = off
    seed: int = setting(0, ge=0, result=False)  # the first seed; each seed's run records its own
    # ensemble: seeds seed..seed+n_seeds-1, predictions averaged in log space. Two seeds (`make backtest`, real data,
    # 2 Intel AMX cores, last48 / prev48, seed 1 trained alone and averaged with the default run's seed 0): network
    # 0.0988 / 0.1009 (seed 0), 0.0977 / 0.1018 (seed 1) -> 0.0972 / 0.0996, blend 0.0957 / 0.0935 -> 0.0953 /
    # 0.0930, for one more network fit and refit (953 / 993 s there): one seed by default for make all's time.
    n_seeds: int = setting(1, ge=1, result=False)
    device: str = "auto"  # auto = CUDA, then MPS, then CPU
    # auto = bf16/fp16 autocast on CUDA, bf16 on CPUs with AMX or AVX512-BF16; off; bf16; fp16 (GPU)
    # auto = bf16 autocast on CUDA and on CPUs with AMX or AVX512-BF16; gpu: on CUDA only; off; bf16; fp16 (GPU)
    amp: Literal["auto", "gpu", "off", "bf16", "fp16"] = "auto"
    # continue an interrupted run from its last checkpoint when the config matches
    resume: bool = setting(True, result=False)
    # --- ensemble: members, refit, blend (pipelines/ensemble.py) ---
    # nn: the seeds of the network above, averaged; gbdt: gradient-boosted trees (LightGBM) on the same
    # processed features plus the first seed's embeddings. Blend weights are fitted on the validation days.
    members: list[Literal["nn", "gbdt"]] = setting(factory=lambda: ["nn", "gbdt"], member="ensemble")
    # after validating, retrain every member on all rows (validation days included) with the same epochs /
    # boosting rounds; the submission comes from the refit members (validation scores from the first fit)
    refit: bool = setting(True, member="ensemble")
    # At most; early stopping on the validation days picks fewer. `make backtest` (real data, 2 AMD cores,
    # networks with StoreDowLevel, last48 / prev48): lr 0.15 capped at 600 was binding (593-599 kept);
    # at 1500, 1089 / 840 kept, LightGBM 0.1048 / 0.1013, blend 0.1028 / 0.0996 (600: 0.1052 / 0.1017,
    # 0.1032 / 0.0998); lr 0.05 capped at 5000: 4218 / 2776 kept, LightGBM 0.1022 / 0.0978, blend 0.1017 /
    # 0.0976, for about 390 s / 250 s per fit instead of 115 s on 2 cores.
    gbdt_rounds: int = setting(5000, ge=1, le=1_000_000, member="gbdt")
    gbdt_lr: float = setting(0.1, gt=0, member="gbdt")  # LightGBM's learning rate
    gbdt_leaves: int = setting(127, ge=2, member="gbdt")  # LightGBM's num_leaves
    gbdt_min_leaf: int = setting(100, ge=1, member="gbdt")  # LightGBM's min_data_in_leaf
    # share of the features each tree sees (feature_fraction)
    gbdt_colsample: float = setting(0.7, gt=0, le=1, member="gbdt")
    # share of the rows each tree sees (bagging_fraction)
    gbdt_subsample: float = setting(0.8, gt=0, le=1, member="gbdt")
    # LightGBM models with seeds seed, seed+1, ... (other row and column samples), each early-stopped on its own;
    # their log predictions averaged. Each costs one more fit and refit. `make backtest` (real data, 2 AMD cores,
    # last48 / prev48): LightGBM alone without embeddings at lr 0.1 scored 0.1057 / 0.1021 (seed 0) and 0.1058 /
    # 0.1003 (seed 1), their two submissions averaged in log space 0.1046 / 0.0996, one seed at lr 0.05 (about the
    # same compute as two at 0.1) 0.1058 / 0.1011. In the default ensemble, two seeds at lr 0.1: LightGBM 0.1012 /
    # 0.0958, blend 0.1002 / 0.0952 (one at lr 0.05: 0.1012 / 0.0965, 0.1003 / 0.0962), LightGBM fits 19-33%
    # longer there but 16% shorter in the real-data `make all` (where seed 1 stopped at 1101 rounds): the cost
    # follows early stopping. With gbdt_colsample=0.5 as well: 7-15% shorter, blend 0.1012 / 0.0942, worse on last48.
    # Two seeds at lr 0.1 became the default with that measurement (better on both windows, no slower in make all).
    # Recency weights (tried, not kept): each training row weighted 0.5 ** (days before the last training day /
    # half-life), for the trees to follow the stores' recent levels. LightGBM alone (2 seeds, lr 0.15, 600 rounds,
    # no embeddings; `make backtest`, real data, 2 Intel AMX cores, last48 / prev48): unweighted 0.1084 / 0.1018,
    # half-life 365 days 0.1082 / 0.1016, 180 days 0.1093 / 0.1068. StoreLevel already carries the drift.
    gbdt_seeds: int = setting(2, ge=1, member="gbdt")
    # categorical columns whose learned network embeddings join the boosting member's features (Guo &
    # Berkhahn 2016, the 3rd-place Rossmann solution: embeddings as features help every learner)
    gbdt_embeddings: list[str] = setting(factory=lambda: ["Store"], member="gbdt")
    # > 0: each of those embeddings enters as its top N principal components (models.tabular.principal_components)
    # instead of its every dimension (Store: 81 of LightGBM's 143 features, 8.5% of its split gain); 0 = every one.
    # Screened with LightGBM alone (seed 0, first fit early-stopped on the validation days, the default run's first
    # network's embeddings, no closure factors; `make backtest` windows, real data, 2 Intel AMX cores; backtest RMSPE
    # last48 / prev48, fit seconds): every dimension 0.1055 / 0.0993 (260 / 313 s), 32 components 0.1051 / -, 16
    # 0.1046 / 0.0995 (215 / 166 s), 8 0.1038 / 0.0994 (211 / 126 s), no embeddings 0.1066 / 0.1042. Their validation
    # figures ran the other way (every dimension 0.0941 / 0.0900, 8 components 0.0942 / 0.0926): the backtest chose.
    # Fewer features make each round cheaper (histograms are built per feature); seconds here are noisy (shared host).
    # In the default ensemble (`make backtest`, same machine, with the CPU dropout of models/dropout.py, whose other
    # masks redraw the network): LightGBM 0.0975 / 0.0947 -> 0.0987 / 0.0954, blend 0.0957 / 0.0935 -> 0.0960 /
    # 0.0932 (mean 0.0946 both), LightGBM fit + refit on prev48 1,248 -> 592 s.
    gbdt_embedding_dims: int = setting(8, ge=0, member="gbdt")
    # RMSPE-optimal point prediction from a log-space model: with log residuals ~ N(0, s2), the ratio c that
    # minimises E[(1 - c*exp(pred)/y)^2] is exp(-1.5 * s2). The submission's shift takes s2 from the validation
    # predictions (of the blend, or of the one member), beside the blend weights; without validation days, from
    # the training rows (each seed's own figure in per_seed always takes it from a sample of its training rows).
    rmspe_shift: bool = True
    # With rmspe_shift: the open days this many days before / after a long closure (a refit; Open is known for the
    # test days) get their own RMSPE factor on top of the shift, fitted on the training rows before the validation
    # days (members.closure_factors; real data: 0.48 before, 1.36 after). 0 = off. Chosen offline on the earlier
    # default's backtest submissions (real data, last48 / prev48: 0.1002 / 0.0952 without factors), with factors
    # fitted on each window's train.csv: 3 days 0.0966 / 0.0948, 5 days 0.0965 / 0.0944, 7 days 0.0966 / 0.0944,
    # 10 days 0.0970 / 0.0944, 14 days 0.0973 / 0.0944. In today's default backtest (`make backtest`, the same
    # run's predictions with the factors divided back out): blend 0.1007 / 0.0936 -> 0.0971 / 0.0928, network
    # 0.1028 / 0.1021 -> 0.0993 / 0.1015, LightGBM 0.1025 / 0.0953 -> 0.0989 / 0.0945, on 30 / 10 of the
    # 45,884 / 43,065 scored pseudo-test days (4 / 1 stores).
    closure_days: int = setting(7, ge=0, member="ensemble")


def net_columns(cfg: RossmannConfig, proc) -> tuple[list[str], list[str]]:
    """The categorical and continuous columns the network reads, in order: every processed one (`proc`, a
    features.TabularProcessor) but `nn_exclude`. The boosting member reads them all."""
    known = {*proc.all_cat_names, *proc.cont_names, *CAT_NAMES, *CONT_NAMES, *OPTIONAL_CONT_NAMES}
    unknown = sorted(set(cfg.nn_exclude) - known)  # a known column this run does not build: nothing to leave out
    if unknown:
        raise ValueError(
            f"nn_exclude={cfg.nn_exclude}: {unknown} not a feature column; name columns of cat_names or "
            f"cont_names ({', '.join(proc.all_cat_names + proc.cont_names)})"
        )
    keep = lambda names: [c for c in names if c not in cfg.nn_exclude]
    return keep(proc.all_cat_names), keep(proc.cont_names)
