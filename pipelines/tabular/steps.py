"""The steps of every tabular competition: a card (pipelines/tabular/__init__.py) and its files are all they need.

features: features.py. train: the members (members.py) per fold or on the time holdout, their blend chosen out of
fold (blend.py), the headline score from rows that chose nothing; several target columns: all of this for each, in
runs/RUN/targets/<target>/, the headline the mean of theirs (a target of one value submits a constant). predict:
the test predictions in sample_submission.csv's own format, validated, into submissions/COMP/RUN.csv. submit: to
Kaggle. lr_find: the network's learning-rate finder.
"""

from __future__ import annotations

import re
import shutil
import time

import numpy as np
import pandas as pd

from features.io import read_feather, read_json_object, write_csv, write_feather, write_npy
from models import gbdt
from models.metrics import Metric, get_metric
from pipelines import submit as submitlib
from pipelines.config import to_dict
from pipelines.ensemble import blend
from pipelines.paths import Paths
from pipelines.runs import RunDir, run_identity
from pipelines.tabular import Card, TabularConfig
from pipelines.tabular.blend import choose_blend, score_or_none, shown, smooth_loss
from pipelines.tabular.features import ADJUST, FOLD, TEXT_MATRIX, build_features, load, read_csv
from pipelines.tabular.members import (
    constant_member,
    embedding_columns,
    fit_dot,
    fit_gbdt,
    fit_linear,
    fit_net,
    learned,
    losses,
    objective,
    ordinal,
)
from pipelines.tabular.schema import Schema, SchemaError, labelled, targets, truth
from pipelines.tabular.submission import column_rules, in_sample_order, submission_frame, written_classes
from pipelines.tabular.validation import first_fit_rows, kfolds

__all__ = ["build_features", "train", "lr_find", "predict", "submit"]  # the card's STEPS


def train(card: Card, paths: Paths, cfg: TabularConfig, run: str) -> dict:
    """The members (LightGBM, the network, the linear model where there is free text) per fold or on the time
    holdout, their blend; see the module doc.
    result.json's headline `oof_<metric>` scores predictions whose every choice was made on other rows."""
    if not cfg.members:
        raise ValueError("members=[] leaves nothing to train: name gbdt, net, linear, dot (ARGS='members=[gbdt,net]')")
    if cfg.gbdt_embeddings and not {"gbdt", "net"} <= set(cfg.members):
        raise ValueError(
            f"gbdt_embeddings={cfg.gbdt_embeddings}: LightGBM reads the network's embeddings, so both must train "
            f"(members=[gbdt,net]), or set gbdt_embeddings=[]"
        )
    schema, validation, proc = load(paths, cfg)
    metric = get_metric(card.metric)
    rd = RunDir(paths.runs / run)
    identity, members = run_identity(cfg, paths), member_identities(cfg, paths)
    done = rd.reuse_or_start(identity, "run", members)
    if done is not None:
        return done
    frame, test = (read_feather(paths.processed / f"{name}.feather") for name in ("train", "test"))
    t0 = time.perf_counter()
    linear = "linear" in cfg.members and bool(schema.texts or cfg.linear_without_text)
    dot, dot_why = collab_columns(metric, schema, proc, cfg) if "dot" in cfg.members else ([], "")
    if not ({"gbdt", "net"} & set(cfg.members) or linear or dot):  # each a reason not to train
        whys = ["the linear member trains where the table has free text (or set linear_without_text=true)"]
        whys = (whys if "linear" in cfg.members else []) + ([f"the dot member {dot_why}"] if dot_why else [])
        raise ValueError(
            f"members=[{','.join(cfg.members)}] trains nothing here: {'; '.join(whys)}; or name gbdt or net"
        )
    if "linear" in cfg.members and not linear:
        print("linear: not trained, no free text (linear_without_text=true trains it on the one-hot columns)")
    if "dot" in cfg.members and not dot:
        print(f"dot: not trained: it {dot_why}")
    if {"gbdt", "net"} & set(cfg.members):
        print(losses(metric, schema, cfg))
    design = linear_design(paths, schema, validation, frame, test, proc) if linear else None
    folds = frame[FOLD].to_numpy()
    if validation["kind"] == "time" and not ((folds == -1).any() and (folds == 1).any() and (folds == 0).any()):
        raise ValueError(
            f"{paths.processed}: the time validation's windows are not all there (built by older code?); "
            f"rebuild it: make features COMP={paths.comp}"
        )
    if not schema.several:
        result = train_target(schema, metric, frame, test, validation, proc, cfg, rd, design, dot)
    else:  # one set of models a target, each in its own folder (resumed or reused on its own)
        results = {}
        for name in ("importance.csv", "oof.feather"):  # a one-target training's, under this run's name
            (rd.path / name).unlink(missing_ok=True)
        kept = {target_dir(rd, t, schema).path.name for t in schema.targets}
        for old in (rd.path / "targets").glob("*") if (rd.path / "targets").is_dir() else ():
            if old.name not in kept:  # a target the card no longer has
                shutil.rmtree(old)
        for target in schema.targets:
            sub = target_dir(rd, target, schema)
            print(f"target {target}:")
            results[target] = sub.reuse_or_start({**identity, "target": target}, f"target {target}", members)
            if results[target] is None:
                results[target] = train_target(
                    schema.of(target), metric, frame, test, validation, proc, cfg, sub, design, dot
                )
                sub.prune_parts()
                sub.finish(results[target])
        result = mean_over_targets(metric, results)
    result["total_seconds"] = round(time.perf_counter() - t0, 1)
    result["device"] = network_device(cfg) if {"net", "dot"} & set(cfg.members) else "cpu"  # `make runs`' device column
    rd.prune_parts()
    rd.finish(result, to_dict(cfg))
    return result


def member_identities(cfg: TabularConfig, paths) -> dict[str, dict]:
    """Each member's identity (`run_identity` of the settings shared by every member and its own), which its parts
    are read back with: a training that changes one member's settings (dot_lr, or members=) reads back the others'.
    LightGBM's holds the network's where it reads the network's embeddings (gbdt_embeddings); the network's holds
    which embeddings it keeps for LightGBM (gbdt_embeddings, gbdt_embedding_dims)."""
    identities = {
        m: run_identity(cfg, paths, ("gbdt", "net") if m == "gbdt" and cfg.gbdt_embeddings else (m,))
        for m in ("gbdt", "net", "linear", "dot")
    }
    identities["net"]["tables"] = [cfg.gbdt_embeddings, cfg.gbdt_embedding_dims]  # the embeddings LightGBM reads
    return identities


def collab_columns(metric: Metric, schema: Schema, proc, cfg: TabularConfig) -> tuple[list[str], str]:
    """(the user's and the item's columns the `dot` member reads (collab.pair), why it does not train): its
    columns and "", or [] and the reason (fewer than two ids read as codes; classes of more than two, unordered)."""
    from pipelines.tabular.collab import pair

    columns = pair(schema.pair, proc)
    if not schema.pair and len(schema.codes) >= 2:  # a schema.json of older code, without the pair
        return [], "needs the pair the features step chooses (features built by older code?): run make features again"
    if not columns:
        return [], "needs two ids read as codes (a ratings table's userId and movieId; the card's codes= names them)"
    if learned(metric, schema, cfg)[0] == "multiclass":
        return [], "learns a number or two classes, not classes of more"
    return columns, ""


def network_device(cfg: TabularConfig) -> str:
    """The device the network and the dot member train on (cfg.device: auto is CUDA, then MPS, then the CPU);
    LightGBM and the linear member fit on the CPU."""
    from models.device import pick_device  # torch: imported as the network is

    return pick_device(cfg.device).type


def linear_design(paths: Paths, schema: Schema, validation: dict, frame, test, proc):
    """The linear member's (train's, the test's) rows (linear.design), with the free text's TF-IDF the features
    step kept (processed/text.npz), its encoders fitted on the rows the procs were."""
    import scipy.sparse as sp

    from pipelines.tabular import linear

    text = None
    if schema.texts:
        path = paths.processed / TEXT_MATRIX
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found (features built by older code?): make features COMP={paths.comp}"
            )
        text = sp.load_npz(path).tocsr()
        if text.shape[0] != len(frame) + len(test):
            raise ValueError(
                f"{path}: {text.shape[0]:,} rows, not train's and the test's {len(frame) + len(test):,}: "
                f"make features COMP={paths.comp}"
            )
    every = np.ones(len(frame), bool)  # the procs' rows: before a time holdout, else every row
    x, x_test = linear.design(
        frame, test, proc, text, schema.from_text, first_fit_rows(frame[FOLD].to_numpy(), validation, every)
    )
    words = 0 if text is None else text.shape[1]
    print(
        f"linear: {x.shape[1]:,} columns ({x.shape[1] - words:,} one-hot of the categories and the numbers' bins"
        + (f", {words:,} of the free text's TF-IDF)" if words else ")")
    )
    return x, x_test


def target_dir(rd: RunDir, target: str, schema: Schema) -> RunDir:
    """runs/RUN/targets/<target>/: the models, predictions and result of one of several targets (numbered
    <i>-<target> where two targets' folder names would be one, on a file system blind to case too)."""
    names = [re.sub(r"[^A-Za-z0-9._-]+", "_", t) for t in schema.targets]
    i = schema.targets.index(target)
    unique = len({n.lower() for n in names}) == len(names)
    return RunDir(rd.path / "targets" / (names[i] if unique else f"{i}-{names[i]}"))


def mean_over_targets(metric: Metric, results: dict[str, dict]) -> dict:
    """The run's result where each of several targets has its own: the headline the mean of theirs (Kaggle's
    column-wise metrics: Tabular Playground Jul 2021's mean RMSLE over its three columns), each target's beside it.
    A target's score may be None (auc of one class): left out of the means. Each member's figure is the mean over
    the targets it fitted, with a one-value target's constant standing in for it."""
    key = f"oof_{metric.name}"
    scored = [r[key] for r in results.values() if r[key] is not None]  # auc: not of a target of one class
    score = round(float(np.mean(scored)), 6) if scored else None
    first = next(iter(results.values()))
    fitted = [r["members"] for r in results.values() if "constant" not in r["members"]]
    names = [n for n in fitted[0] if all(n in m for m in fitted)] if fitted else []

    def member(n: str) -> float | None:  # its mean over the targets, a target of one value's constant standing in
        each = [r["members"].get(n, r["members"].get("constant")) for r in results.values()]
        return (
            round(float(np.mean([v for v in each if v is not None])), 6) if any(v is not None for v in each) else None
        )

    unscored = [t for t, r in results.items() if r[key] is None]
    print(
        f"{metric.name} {shown(score)}: the mean over {len(scored)} of the {len(results)} targets "
        f"({', '.join(f'{t} {shown(r[key])}' for t, r in results.items())})"
        + (
            f"; {', '.join(unscored[:5])}: one class, unscored here; Kaggle scores its constant column too"
            if unscored
            else ""
        )
    )
    return {
        key: score,
        "metric": metric.name,
        "validation": first["validation"],
        "targets": {
            t: {k: r[k] for k in (key, "members", "weights", "rounds", "scored_rows")} for t, r in results.items()
        },
        "members": {n: member(n) for n in names},
        "scored_rows": first["scored_rows"],
        "scored_on": first["scored_on"],
        "refit": first["refit"],
        "adjusted": first["adjusted"],
    }


def train_target(
    schema: Schema,
    metric: Metric,
    frame,
    test,
    validation: dict,
    proc,
    cfg: TabularConfig,
    rd: RunDir,
    design=None,
    dot: list[str] | None = None,
):
    """The members and their blend for the schema's (one) target, their test predictions written into `rd`;
    returns the result (not yet written). `design`: the linear member's rows (linear_design); `dot`: the dot
    member's two columns (collab_columns; none: it does not train)."""
    t0 = time.perf_counter()
    (rd.path / "importance.csv").unlink(missing_ok=True)  # an earlier run's, whose members may have differed
    y, ok = targets(metric, schema, frame)
    folds = frame[FOLD].to_numpy()
    oof, test_raw, rounds, seconds, tables, epochs, strengths = {}, {}, {}, {}, {}, {}, {}
    numbered = ordinal(metric, schema, cfg)
    windows = [-1, 1, 0] if validation["kind"] == "time" else kfolds(folds)  # each must hold rows of the target
    empty = [k for k in windows if not ((folds == k) & ok).any()]
    if empty:  # of several targets, one known in few rows (LightGBM cannot validate on none)
        raise SchemaError(
            f"{schema.targets[0]}: no labelled row in fold {empty} ({int(ok.sum()):,} labelled rows in all): "
            f"set fewer folds= (ARGS='folds=3'), or leave the target out of the card's target="
        )
    constant = np.unique(y[ok]).size == 1  # one value (a rare label of several targets'): nothing to fit
    if constant:
        print(f"{schema.targets[0]}: one value in every labelled row: submitted as a constant")
        oof["constant"], test_raw["constant"] = constant_member(
            learned(metric, schema, cfg)[0], len(schema.classes), y, ok, len(test)
        )
    if "net" in cfg.members and not constant:  # first: LightGBM may read its embeddings
        t1 = time.perf_counter()
        oof["net"], test_raw["net"], tables, epochs = fit_net(
            frame, test, y, ok, folds, validation, schema, metric, proc, cfg, rd
        )
        seconds["net"] = round(time.perf_counter() - t1, 1)
    if "gbdt" in cfg.members and not constant:
        t1 = time.perf_counter()
        names = proc.all_cat_names + proc.cont_names
        x, x_test = frame[names].to_numpy(np.float32), test[names].to_numpy(np.float32)
        params = gbdt.GBDTParams.from_config(cfg, seed=cfg.seed, **objective(metric, schema, cfg))
        extra = embedding_columns(frame, test, tables) if cfg.gbdt_embeddings else None
        categorical = tuple(proc.all_cat_names) if cfg.gbdt_categorical else ()
        oof["gbdt"], test_raw["gbdt"], rounds = fit_gbdt(
            x,
            x_test,
            y,
            ok,
            folds,
            validation,
            params,
            names,
            rd,
            seeds=cfg.gbdt_seeds,
            refit=cfg.refit,
            extra=extra,
            categorical=categorical,
        )
        seconds["gbdt"] = round(time.perf_counter() - t1, 1)
    if dot and not constant:
        t1 = time.perf_counter()
        task = learned(metric, schema, cfg)[0]
        oof["dot"], test_raw["dot"] = fit_dot(
            frame, test, y, ok, folds, validation, dot, task, metric.loss, proc, cfg, rd
        )
        seconds["dot"] = round(time.perf_counter() - t1, 1)
    if design is not None and not constant:
        t1 = time.perf_counter()

        def loss(p: np.ndarray, rows: np.ndarray) -> float:  # the blend's, on the labelled of `rows`
            keep = ok[rows]
            return smooth_loss(metric, schema, y[rows][keep], keep[keep], numbered)(p[keep])

        oof["linear"], test_raw["linear"], strengths = fit_linear(
            *design, y, ok, folds, validation, *learned(metric, schema, cfg), loss, cfg, rd
        )
        seconds["linear"] = round(time.perf_counter() - t1, 1)
    known = labelled(schema, frame)  # of several targets, a row may lack this one
    if validation["kind"] == "time":
        days = validation["horizon_days"]
        scored = (folds == 0) & known
        how = f"the {days}-day holdout (rounds chosen on the {days} days before it)"
        groups = np.random.default_rng(cfg.seed).integers(0, 4, int(scored.sum()))  # to choose the blend on
    else:
        scored, how = (folds >= 0) & known, f"{len(kfolds(folds))} folds, out of fold"
        groups = folds[scored]
    true = truth(schema, frame)[scored]
    offset = frame[ADJUST].to_numpy()[scored] if ADJUST in frame.columns else 0.0
    preds = {n: p[scored] for n, p in oof.items()}
    # a member with one value for every test row where its scored predictions vary: left out of the blend (unless
    # it is the only one), its figure alone still reported
    collapsed = [n for n in test_raw if np.ptp(test_raw[n], axis=0).max() == 0 < np.ptp(preds[n], axis=0).max()]
    if len(collapsed) < len(test_raw):
        for name in collapsed:
            print(
                f"warning: {name}'s test predictions are one value where its predictions on {how} vary: the test's "
                f"inputs lie outside what it learned; it is left out of the submission's blend"
            )
            del test_raw[name], oof[name]
    members, member_choices = {}, {}
    for name in preds:  # each alone, its threshold (f1, mcc), cuts (qwk) or shift (rmspe) chosen as the blend's are
        _, member_choices[name], alone = choose_blend(
            {name: preds[name]}, y[scored], ok[scored], true, groups, metric, schema, offset, numbered
        )
        members[name] = score_or_none(metric, true, alone)
    blended = {n: p for n, p in preds.items() if n in test_raw}
    weights, chosen, honest = choose_blend(
        blended, y[scored], ok[scored], true, groups, metric, schema, offset, numbered
    )
    score = score_or_none(metric, true, honest)
    write_npy(blend(test_raw, weights), rd.path / "test_raw.npy")
    for name, values in test_raw.items():
        write_npy(values, rd.path / f"test_raw_{name}.npy")
    write_feather(oof_table(schema, metric, frame, folds, scored, honest, oof), rd.path / "oof.feather")
    result = {
        f"oof_{metric.name}": score,
        "metric": metric.name,
        "validation": validation,
        "rounds": rounds,
        "net_epochs": epochs,  # each fold's network's, or the refit's (a small table's: chosen on held rows)
        "linear_strength": strengths,  # each fold's, or the holdout's and refit's (chosen on other held rows)
        "refit": validation["kind"] == "time" and cfg.refit,
        "members": members,
        "weights": weights,
        "member_seconds": seconds,
        "scored_rows": int(scored.sum()),
        "scored_on": how,
        **chosen,  # threshold, log_shift, (cuts): what predict's submission_form reads
        "member_choices": member_choices,
        "adjusted": ADJUST in frame.columns,
        "total_seconds": round(time.perf_counter() - t0, 1),
    }
    alone = ", ".join(f"{n} {shown(v)}" for n, v in members.items())
    print(
        f"{metric.name} {shown(score)} on {how} ({int(scored.sum()):,} rows; members {alone}; weights "
        f"{', '.join(f'{n} {w:.2f}' for n, w in weights.items())}"
        + "".join(f"; LightGBM rounds ({which}) {r}" for which, r in rounds.items())
        + (f"; network epochs ({'refit' if 'refit' in epochs else 'folds'}) {list(epochs.values())}" if epochs else "")
        + "".join(f"; linear strength ({which}) {v}" for which, v in strengths.items())
        + (
            f"; the classes learned as one number, cut at {', '.join(f'{c:.3f}' for c in chosen['cuts'])}"
            if numbered
            else ""
        )
        + ")"
    )
    return result


def oof_table(schema: Schema, metric: Metric, frame, folds, scored, honest, oof: dict) -> pd.DataFrame:
    """runs/RUN/oof.feather: each labelled row's id, target and fold; `pred` (a column a class where it is a row of
    probabilities: `pred:<class>`), the headline's out-of-fold predictions as submitted (the target's units, the
    probability, the class), so that the metric of `pred` on its rows is `oof_<metric>`: each row's blend weights
    and choices made on other rows (blank where no row scored it: a time holdout's fit rows); and each member's
    out-of-fold predictions on the scale it learns (log1p(target) for rmsle; `<member>:<class>`), to stack on."""
    table = {c: frame[c].to_numpy() for c in (schema.id, schema.target_column) if c in frame.columns}
    table["fold"] = folds
    rows = np.flatnonzero(scored)

    def column(values) -> pd.Series:  # the scored rows' values, blank elsewhere
        return pd.Series(values, index=rows).reindex(range(len(frame)))

    classes = [str(c) for c in schema.classes]
    labels = schema.task != "regression" and np.issubdtype(np.asarray(honest).dtype, np.integer)  # class indices
    if metric.submits == "ranked" or (labels and np.ndim(honest) == 1):  # the classes as submitted (map@k: ranked)
        table["pred"] = column([str(c) for c in written_classes(metric, schema, honest)])
    elif np.ndim(honest) == 2:  # a probability a class
        table |= {f"pred:{c}": column(honest[:, i]) for i, c in enumerate(classes)}
    else:
        table["pred"] = column(np.asarray(honest, np.float64))
    for name, values in oof.items():
        values = np.asarray(values)
        if values.ndim == 2:
            table |= {f"{name}:{c}": values[:, i] for i, c in enumerate(classes)}
        else:
            table[name] = values
    return pd.DataFrame(table)


def predict(card: Card, paths: Paths, cfg: TabularConfig, run: str):
    """submissions/COMP/RUN.csv in sample_submission.csv's format, validated against it."""
    schema, _, _ = load(paths, cfg)
    metric = get_metric(card.metric)
    rd = RunDir(paths.runs / run)
    if not rd.is_complete():
        raise FileNotFoundError(f"{rd.result} not found: make train COMP={paths.comp} RUN={run}")
    sample = read_csv(paths.raw / card.file("sample"), "download it again", (schema.id,))
    result = rd.read_json("result.json")
    adjusted = result.get("adjusted", False)  # the card's adjust= offsets, added to the test predictions
    test = read_feather(paths.processed / "test.feather", columns=[schema.id, ADJUST] if adjusted else [schema.id])
    order = pd.Series(np.arange(len(test)), index=test[schema.id].astype(str))
    missing = ~sample[schema.id].astype(str).isin(order.index)
    if missing.any():
        first = sample[schema.id][missing].iloc[0]
        raise ValueError(f"{card.file('sample')}: {int(missing.sum())} ids not in {card.file('test')} (e.g. {first})")
    rows = order.loc[sample[schema.id].astype(str)].to_numpy()
    offset = test[ADJUST].to_numpy()[rows] if adjusted else 0.0  # regression only: one number a row
    value = [c for c in sample.columns if c != schema.id]
    each = [(schema, rd, sample)] if not schema.several else [
        (schema.of(t), target_dir(rd, t, schema), sample[[schema.id, c]]) for t, c in zip(schema.targets, value, strict=True)
    ]  # fmt: skip
    frames, rules, members, constants = [], {}, {}, []
    for schema_t, rd_t, sample_t in each:  # the target's blend, and each member alone where it has several
        chosen = rd_t.read_json("result.json")
        raw = np.load(rd_t.path / "test_raw.npy")[rows] + offset
        sub_t, rules_t = submission_frame(metric, schema_t, sample_t, raw, chosen)
        frames.append(sub_t.drop(columns=schema.id))
        rules.update(rules_t)
        if "constant" in chosen.get("weights", {}):  # in every member's submission as it is
            constants.append(frames[-1])
        for name in chosen.get("weights", {}) if len(chosen.get("weights", {})) > 1 else ():
            member = np.load(rd_t.path / f"test_raw_{name}.npy")[rows] + offset
            alone, _ = submission_frame(
                metric, schema_t, sample_t, member, chosen.get("member_choices", {}).get(name, {})
            )
            members.setdefault(name, []).append(alone.drop(columns=schema.id))
    sub = in_sample_order(pd.concat([sample[[schema.id]], *frames], axis=1), sample)
    shutil.rmtree(rd.path / "member_submissions", ignore_errors=True)  # an earlier predict's members
    for name, columns in members.items():  # a member in every fitted target's blend: its own whole submission
        if len(columns) + len(constants) == len(each):
            alone = in_sample_order(pd.concat([sample[[schema.id]], *columns, *constants], axis=1), sample)
            write_csv(alone, rd.path / "member_submissions" / f"{name}.csv")
    path = submitlib.write_submission(sub, sample, schema.id, paths.submissions / f"{run}.csv", columns=rules)
    print(
        f"submission: {path} ({len(sub):,} rows; {metric.name} {result[f'oof_{metric.name}']} on {result['scored_on']})"
    )
    return path


def submit(card: Card, paths: Paths, cfg: TabularConfig, run: str) -> None:
    """Validate the run's submission again and send it to Kaggle with its out-of-fold score."""
    path = paths.submissions / f"{run}.csv"
    submitlib.submittable(path, paths.runs / run / "result.json", paths.comp, run, card.slug)
    schema = Schema.read(paths.processed)
    sample = read_csv(paths.raw / card.file("sample"), "download it again", (schema.id,))
    sub = submitlib.read_submission(path, text=(schema.id,))
    rules = column_rules(get_metric(card.metric), schema, sample)
    submitlib.validate_submission(sub, sample, schema.id, where=str(path), columns=rules)
    key = f"oof_{get_metric(card.metric).name}"
    result = read_json_object(paths.runs / run / "result.json")  # {} where the run is gone: the file alone
    submitlib.submit(card.slug, paths.comp, path, f"{run} {key}={result[key]}" if key in result else run)


def lr_find(card: Card, paths: Paths, cfg: TabularConfig, run: str) -> dict:
    """The learning-rate finder of the network member on the rows it first trains on (the rows before the time
    holdout, or every labelled row for k-fold): runs/RUN/lr_find.png and the suggested net_lr, printed."""
    from pipelines.tabular import net  # torch: imported when the network is built

    schema, validation, proc = load(paths, cfg)
    metric = get_metric(card.metric)
    frame = read_feather(paths.processed / "train.feather")
    if schema.several:  # the first that varies
        first = next(t for t in schema.targets if frame[t].nunique() > 1)
        print(f"lr finder on one of the {len(schema.targets)} targets, {first!r}")
        schema = schema.of(first)
    y, ok = targets(metric, schema, frame)
    rows = first_fit_rows(frame[FOLD].to_numpy(), validation, ok)
    task, n_classes = learned(metric, schema, cfg)
    learn, *_ = net.make_learner(proc, frame[rows], y[rows], task, n_classes, metric.loss, cfg, "lr find")
    plot = paths.runs / run / "lr_find.png"
    result = learn.lr_find(plot=plot)
    print(
        f"lr finder: suggested lr {result['suggested_lr']:.2e} (plot: {plot}); the network's one cycle peaks at "
        f'net_lr={cfg.net_lr:g}: try ARGS="net_lr={result["suggested_lr"]:.1e}"'
    )
    return result
