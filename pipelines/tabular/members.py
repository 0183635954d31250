"""The members of a tabular run, on the metric's training target (log1p for rmsle, log for rmspe, class indices;
qwk's ordered class indices as a number): LightGBM and the entity-embedding network (net.py), on the same rows,
each fitted piece kept in runs/RUN/parts/; a target of one value, a constant.

k-fold: each fold's LightGBM early-stops on its fold, and its out-of-fold predictions are taken at the median round
count of the *other* folds; the test predictions are the folds' average. Time: the rounds are chosen on the
horizon before the holdout (early stopping there), a model of that many rounds on every row before the holdout
scores it, and (`refit`) one on every row predicts the test, with the rounds early stopping on the holdout chooses
once the holdout is scored (the latest days: a horizon before it may hold an Easter the test has not): one fit of
the rows before the holdout, watching it, grows both (its first trees score it; gbdt.fit's at_least). The network
trains first, on the same rows (LightGBM may read its embeddings); in k-fold, on a small table, for as many epochs
as the held loss of another fold's network chose (chosen_epochs). Where the table has free text, the linear member
(linear.py) on the same rows, its strength chosen as the network's epochs are (fit_linear)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from features.io import DamagedFile, atomic_path, cached, write_csv
from models import gbdt
from models.metrics import Metric
from pipelines.runs import RunDir
from pipelines.tabular import TabularConfig
from pipelines.tabular.schema import Schema, SchemaError
from pipelines.tabular.validation import kfolds


def ordinal(metric: Metric, schema: Schema, cfg: TabularConfig) -> bool:
    """Whether the members learn the class as a number (its index), cut into classes at thresholds chosen out of
    fold (models.metrics.best_cuts): qwk's ordered classes (numbers, or in the card's classes= order) with
    cfg.ordinal. A class 3 predicted 2 costs qwk less than one predicted 0; cross-entropy treats both alike."""
    return metric.ordinal and cfg.ordinal and schema.task == "multiclass" and not schema.label


def learned(metric: Metric, schema: Schema, cfg: TabularConfig) -> tuple[str, int]:
    """(the task the members learn, their outputs a row): regression of one number for ordinal classes."""
    if ordinal(metric, schema, cfg):
        return "regression", 1
    return schema.task, len(schema.classes) if schema.task == "multiclass" else 1


def losses(metric: Metric, schema: Schema, cfg: TabularConfig) -> str:
    """The line that says what the losses the members print are, beside the metric they are judged by: a House
    Prices run printed valid_loss 0.0169 and LightGBM's valid l2 0.0170 beside rmsle 0.122, a root of such a loss."""
    task = learned(metric, schema, cfg)[0]
    target = schema.targets[0] if len(schema.targets) == 1 else "each target"
    of = {"log1p": f"log1p({target})", "log": f"log({target})"}.get(metric.target, target)
    if ordinal(metric, schema, cfg):
        loss, gbdt, of = "squared error", "l2", "the class as a number"
    elif task == "regression":
        loss, gbdt = ("absolute error", "l1") if metric.loss == "l1" else ("squared error", "l2")
    else:
        loss, gbdt, of = "log loss", "binary_logloss" if task == "binary" else "multi_logloss", "the classes"
    return (
        f"losses: the network's valid_loss and LightGBM's valid {gbdt} are the mean {loss} of {of} on held rows; "
        f"the headline is {metric.name} of the predictions as submitted"
    )


def objective(metric: Metric, schema: Schema, cfg: TabularConfig) -> dict:
    """LightGBM's objective for the task the members learn and the metric's loss."""
    if ordinal(metric, schema, cfg):
        return {"objective": "regression"}
    if schema.task == "regression":
        return {"objective": "regression_l1" if metric.loss == "l1" else "regression"}
    if schema.task == "binary":
        return {"objective": "binary"}
    if schema.task == "multiclass":
        return {"objective": "multiclass", "num_class": len(schema.classes)}
    raise SchemaError("a multi-label table is not handled by the tabular kind yet; the image kind handles tags")


def constant_member(task: str, k: int, y: np.ndarray, ok: np.ndarray, n_test: int) -> tuple[np.ndarray, np.ndarray]:
    """(every row's, the test's) predictions of a target with one value in its n labelled rows, for the `task` the
    members learn: that value on the training target's scale, or for a class c of k the probabilities
    (n [i = c] + 1/k) / (n + 1), as if one more row were seen, its class unknown: never quite 1, so a test row of
    another class costs a log loss of about log(n), not the clip's 34.5."""
    value, n = y[ok][0], int(ok.sum())
    if task == "regression":  # a number, or an ordinal class's
        row = np.float64(value)
    else:
        row = (n * (np.arange(k) == value) + 1 / k) / (n + 1)
        row = row[1] if task == "binary" else row  # binary: P(class 1)
    return np.full((len(y), *np.shape(row)), row), np.full((n_test, *np.shape(row)), row)


def fit_gbdt(
    x,
    x_test,
    y,
    ok,
    folds,
    validation: dict,
    params,
    names,
    rd: RunDir,
    *,
    seeds=1,
    refit=False,
    extra=None,
    categorical=(),
):
    """LightGBM's (out-of-fold predictions, test predictions, {which models: their rounds}) as the module doc
    says (`refit`: a time holdout's refit on every row); each model is `seeds` models (seeds seed, seed+1, ...:
    other row and column samples), their predictions averaged. `extra(which)`: columns added to x and x_test (with
    their names) for the model `which` ("holdout", "refit", or a fold): the embeddings of the network fitted on the
    same rows. `categorical`: the columns of category codes LightGBM splits as categories."""
    seeds = [params.seed + i for i in range(seeds)]

    def view(which) -> tuple[np.ndarray, np.ndarray, list[str]]:
        if extra is None:
            return x, x_test, names
        add, add_test, added = extra(which)
        return np.concatenate([x, add], axis=1), np.concatenate([x_test, add_test], axis=1), [*names, *added]

    def fit(view_, rows, label, valid_rows=None, rounds=None, scored=None) -> list:
        """One booster per seed on `rows` of the view (early-stopped on `valid_rows`, or `rounds[i]` rounds).
        `scored` (rows of the view; with `valid_rows` and `rounds`): each seed's (the predictions of `scored` by
        its first `rounds[i]` trees, the round early stopping chose) instead, from one fit grown to both."""
        xs, _, view_names = view_
        kept, valid = [], None if valid_rows is None else (xs[valid_rows], y[valid_rows])
        for i, seed in enumerate(seeds):
            tag = f" seed {seed}" if len(seeds) > 1 else ""

            def compute(i=i, seed=seed, tag=tag):
                booster = gbdt.fit(
                    xs[rows], y[rows], replace(params, seed=seed), view_names, valid=valid, label=label + tag,
                    rounds=None if scored is not None else rounds and rounds[i], categorical=categorical,
                    at_least=None if scored is None else rounds[i],
                )  # fmt: skip
                if scored is None:
                    return booster
                return gbdt.predict(booster, xs[scored], rounds[i]), gbdt.best_rounds(booster)

            if scored is None:  # up to its best round, as gbdt.fit returns it
                kept.append(part(rd, f"{label}{tag}", ".txt", compute, gbdt.save, gbdt.load, "gbdt"))
            else:
                kept.append(part(rd, f"{label}{tag}", ".npz", compute, save_scored, load_scored, "gbdt"))
        return kept

    def predict(boosters, rows, upto=None) -> np.ndarray:
        return np.mean([gbdt.predict(b, rows, upto and min(upto, b.current_iteration())) for b in boosters], axis=0)

    oof = np.full((len(x), *([params.num_class] if params.num_class > 1 else [])), np.nan)
    if validation["kind"] == "time":
        before, inner, held = folds == -1, folds == 1, folds == 0
        # the rounds are chosen with the holdout network's embeddings (it saw the inner rows, not the holdout)
        xs, xs_test, _ = holdout = view("holdout")
        rounds = [gbdt.best_rounds(b) for b in fit(holdout, before & ok, "gbdt rounds", inner & ok)]
        if refit:  # every row, the holdout included, for the rounds the holdout chooses once it is scored
            # one fit on the rows before the holdout, watching it: its first `rounds` trees score it, and where its
            # early stopping ends is the refit's rounds (the same trees two fits of these rows grew before)
            scored = fit(holdout, ~held & ok, "gbdt holdout", held & ok, rounds, scored=held)
            oof[held], latest = np.mean([p for p, _ in scored], axis=0), [r for _, r in scored]
            del xs, xs_test, holdout  # with embeddings a copy of x: not two at once beside the refit's
            every = view("refit")
            final = fit(every, ok, "gbdt refit", rounds=latest)
            write_importance(final, rd)
            return oof, predict(final, every[1]), {"holdout": rounds, "refit": latest}
        scorers = fit(holdout, ~held & ok, "gbdt holdout", rounds=rounds)
        oof[held] = predict(scorers, xs[held])
        write_importance(scorers, rd)
        return oof, predict(scorers, xs_test), {"holdout": rounds}
    test_raw, held_folds = np.zeros((len(x_test), *oof.shape[1:])), kfolds(folds)
    models, rounds, held_x = [], [], []
    for k in held_folds:
        fold = view(k)
        models.append(fit(fold, (folds != k) & ok, f"gbdt fold {k}", (folds == k) & ok))
        rounds.append(int(np.median([gbdt.best_rounds(b) for b in models[-1]])))
        t0 = time.perf_counter()
        test_raw += predict(models[-1], fold[1]) / len(held_folds)
        seconds = time.perf_counter() - t0
        if seconds > 5:  # thousands of trees of wide category splits: seconds a fold, said
            print(f"gbdt fold {k}: the test's {len(x_test):,} rows predicted in {seconds:.0f} s")
        held_x.append(fold[0][folds == k])
    for i, k in enumerate(held_folds):  # each fold scored at a round count its own rows did not choose
        others = int(np.median([r for j, r in enumerate(rounds) if j != i]))
        oof[folds == k] = predict(models[i], held_x[i], others)
    write_importance([b for boosters in models for b in boosters], rd)
    return oof, test_raw, {"folds": rounds}


def write_importance(boosters: list, rd: RunDir) -> None:
    """runs/RUN/importance.csv (the gain share and splits of each feature over the models that predict the test;
    `make report` shows it) and the top few printed."""
    table = gbdt.importance(boosters)
    write_csv(table, rd.path / "importance.csv")
    top = ", ".join(f"{r.feature} {r.gain_share:.0%}" for r in table.head(8).itertuples())
    print(f"LightGBM's features by gain: {top} ({rd.path / 'importance.csv'})")


def part(rd: RunDir, name: str, suffix: str, compute, save, load, member: str | None = None):
    """A finished piece of the run (one booster, one network's predictions) in runs/RUN/parts/: read back when it was
    made with the same identity, else computed and saved; a part that cannot be read back is computed again
    (features.io.cached). The identity: its `member`'s (the settings shared by every member and the member's own,
    the features, the code: the run's config.json holds each member's, `steps.member_identities`), so that a
    training with another member's settings changed reads it back too; else the run's (an interrupted run)."""

    def loaded(path: Path):
        try:
            value = load(path)
        except Exception as e:  # LightGBM's and numpy's own errors for a damaged file: read as one
            raise DamagedFile(path, e, "part of a run") from e
        print(
            f"{name}: trained already, read back ({path}: the settings it depends on, the features and the code unchanged)"
        )
        return value

    path = rd.parts / f"{name.replace(' ', '-')}{suffix}"
    rd.used.add(path.name)
    config = rd.read_json("config.json")
    made_with = config.get("members", {}).get(member, config["run"])
    return cached(path, {"run": made_with, "part": name}, compute, save, loaded)


def save_scored(value: tuple[np.ndarray, int], path: Path) -> None:
    """A time holdout's LightGBM (its predictions of the holdout, the refit's rounds) as one .npz, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, pred=value[0], rounds=value[1])


def load_scored(path: Path) -> tuple[np.ndarray, int]:
    with np.load(path) as saved:
        return saved["pred"], int(saved["rounds"])


def save_predictions(value: tuple[list[np.ndarray], dict, np.ndarray], path: Path) -> None:
    """A network's (predictions per frame, embedding tables, watched loss per epoch) as one .npz, written
    atomically."""
    preds, tables, watched = value
    arrays = {f"pred{j}": p for j, p in enumerate(preds)} | {f"table:{k}": t for k, t in tables.items()}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays, watched=watched)


def load_predictions(path: Path, n: int) -> tuple[list[np.ndarray], dict, np.ndarray]:
    with np.load(path) as saved:
        tables = {k.removeprefix("table:"): saved[k] for k in saved.files if k.startswith("table:")}
        return [saved[f"pred{j}"] for j in range(n)], tables, saved["watched"]


# net_epochs=0: where the rule's epochs (net.batches) are at least this many, k-fold's first two folds' networks
# watch their held rows' loss first, and each fold trains as many epochs as another fold's loss was lowest after;
# a time holdout's refit, as many as the holdout's loss was lowest after
PROBED_EPOCHS = 8
FEWEST_EPOCHS = 3


def chosen_epochs(first: np.ndarray, second: np.ndarray, rules: list[int]) -> list[int]:
    """The epochs of each fold's network (`rules`: each fold's by the rule, net.batches), from the watched losses
    (one per epoch, averaged over seeds) of the first two folds' networks trained their rule's epochs: the epoch
    the first's was lowest after for every fold but the first, the second's for the first (no fold's epochs
    chosen on its own held rows), at least FEWEST_EPOCHS, at most the fold's rule. A network a small table
    overfits within a few epochs (its held loss lowest at epoch 2-4 of 34) trains a one cycle that short; on a
    table it does not, the rule's epochs stay. A loss that is never a number (NaN) chooses nothing."""
    picks = crossed(lowest_epoch(first), lowest_epoch(second), len(rules))
    return [min(rule, pick or rule) for rule, pick in zip(rules, picks, strict=True)]


def crossed(first, second, n: int) -> list:
    """The choice of each of `n` folds where the first two folds' held rows chose `first` and `second`: the
    second's for the first fold, the first's for every other, so that no fold is scored at a choice its own
    held rows made (the network's epochs, the linear member's strength)."""
    return [second, *[first] * (n - 1)]


def lowest_epoch(watched: np.ndarray) -> int | None:
    """The epoch a network's watched loss was lowest after (1-based), at least FEWEST_EPOCHS; None where no loss
    is a number."""
    return max(FEWEST_EPOCHS, int(np.nanargmin(watched)) + 1) if np.isfinite(watched).any() else None


def fit_net(frame, test, y, ok, folds, validation: dict, schema: Schema, metric: Metric, proc, cfg, rd: RunDir):
    """The network's (out-of-fold predictions, test predictions, embedding tables, {fold or "refit": its epochs}),
    on the same rows as LightGBM's: the time holdout (then a refit on every row for the test, a small table's for
    the epochs the holdout's loss chose), or each fold (the test: the folds' average; a small table's epochs
    chosen on other folds, chosen_epochs). The tables (`gbdt_embeddings`, for LightGBM) of each network:
    {"holdout" | "refit" | fold: {column: codes x dims}}. Each network's epochs (its loss on the rows it predicts,
    where they are labelled) are recorded in runs/RUN/net-<which>/ (metrics.csv, training.png, TensorBoard)."""
    from pipelines.tabular import net  # torch: imported when the network trains

    task, n_classes = learned(metric, schema, cfg)
    oof = np.full((len(frame), *([n_classes] if n_classes > 1 else [])), np.nan)
    tables = {}

    def run(fit, evals: list, label: str, which, watch=None, epochs=0, rule=0) -> tuple[list[np.ndarray], np.ndarray]:
        """`net_seeds` networks (seeds seed, seed+1, ...) on the same rows, their (predictions, watched losses)
        averaged; LightGBM reads the first one's embeddings (another seed's are another coordinate system: not
        averaged). `epochs` other than the `rule`'s: trained instead of the cfg's, and part of the label (a part of
        its own; the rule's networks, which may have watched, are reused)."""
        if epochs == rule:
            epochs = 0
        label += f" {epochs} epochs" if epochs else ""
        valid = (frame[watch], y[watch]) if watch is not None else None
        total, watched, n = None, 0.0, cfg.net_seeds
        for i in range(n):
            name = label if n == 1 else f"{label} seed {cfg.seed + i}"
            settings = replace(cfg, seed=cfg.seed + i, net_epochs=epochs or cfg.net_epochs)
            preds, chosen, losses = part(
                rd, name, ".npz",
                lambda name=name, settings=settings: net.fit_predict(
                    proc, frame[fit], y[fit], evals, task, n_classes, metric.loss, settings, name,
                    record=rd.path / name.replace(" ", "-"), valid=valid,
                ),
                save_predictions, lambda path: load_predictions(path, len(evals)), "net",
            )  # fmt: skip
            if i == 0:  # a fold's final network comes after the one that chose its epochs: its tables are kept
                tables[which] = chosen
            total = preds if total is None else [t + p for t, p in zip(total, preds, strict=True)]
            watched = watched + losses / n
        return [t / n for t in total], watched

    if validation["kind"] == "time":
        held = folds == 0
        (oof[held], test_raw), watched = run(~held & ok, [frame[held], test], "net holdout", "holdout", held & ok)
        if not cfg.refit:
            return oof, test_raw, tables, {}
        # the refit's epochs where the holdout's loss was lowest, once it is scored (as LightGBM's refit rounds)
        rule = net.batches(int(ok.sum()), cfg.net_bs, cfg.net_epochs)[1]
        refit = min(rule, lowest_epoch(watched) or rule) if not cfg.net_epochs and rule >= PROBED_EPOCHS else rule
        if refit != rule:
            print(f"net refit: {refit} epochs of the rule's {rule}, where the holdout's loss was lowest")
        (test_raw,), _ = run(ok, [test], "net refit", "refit", epochs=refit, rule=rule)
        return oof, test_raw, tables, {"refit": refit}
    test_raw = 0.0
    held_folds = kfolds(folds)
    fits = [(folds != k) & ok for k in held_folds]
    rules = [net.batches(int(fit.sum()), cfg.net_bs, cfg.net_epochs)[1] for fit in fits]  # each fold's own rows'

    def fold_net(i: int, epochs: int) -> tuple[list[np.ndarray], np.ndarray]:
        k = held_folds[i]
        return run(fits[i], [frame[folds == k], test], f"net fold {k}", k, (folds == k) & ok, epochs, rules[i])

    epochs = rules
    if not cfg.net_epochs and min(rules[:2]) >= PROBED_EPOCHS:  # two folds' networks watch their held rows
        epochs = chosen_epochs(fold_net(0, rules[0])[1], fold_net(1, rules[1])[1], rules)
        print(
            f"net epochs {epochs} of the rule's {rules} (folds {held_folds}), each where another fold's held loss "
            f"was lowest: fold {held_folds[1]}'s for fold {held_folds[0]}, fold {held_folds[0]}'s for the others"
        )
    for i, k in enumerate(held_folds):
        (oof[folds == k], fold_test), _ = fold_net(i, epochs[i])  # the rule's: the watching networks, reused
        test_raw = test_raw + fold_test / len(held_folds)
    return oof, test_raw, tables, dict(zip(map(int, held_folds), epochs, strict=True))


def save_arrays(arrays: list[np.ndarray], path: Path) -> None:
    """A member's predictions (one array per frame predicted) as one .npz, written atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, *arrays)


def load_arrays(path: Path) -> list[np.ndarray]:
    """The arrays save_arrays wrote, in their order."""
    with np.load(path) as saved:
        return [saved[f"arr_{j}"] for j in range(len(saved.files))]


def fit_dot(
    frame: pd.DataFrame,
    test: pd.DataFrame,
    y: np.ndarray,
    ok: np.ndarray,
    folds: np.ndarray,
    validation: dict,
    columns: list[str],
    task: str,
    loss: str,
    proc,
    cfg: TabularConfig,
    rd: RunDir,
) -> tuple[np.ndarray, np.ndarray]:
    """The collaborative-filtering member's (out-of-fold predictions, test predictions) on the same rows as the
    network's (collab.py, on the two `columns`): the time holdout (then, with `refit`, a refit on every row for the
    test), or each fold (the test: the folds' average). Each model a part of the run."""
    from pipelines.tabular import collab  # torch: imported when it trains

    oof = np.full(len(frame), np.nan)

    def run(rows: np.ndarray, evals: list, label: str) -> list[np.ndarray]:
        compute = lambda: collab.fit_predict(proc, columns, frame[rows], y[rows], evals, task, loss, cfg, label)
        return part(rd, label, ".npz", compute, save_arrays, load_arrays, "dot")

    if validation["kind"] == "time":
        held = folds == 0
        oof[held], test_raw = run(~held & ok, [frame[held], test], "dot holdout")
        if cfg.refit:
            (test_raw,) = run(ok, [test], "dot refit")
        return oof, test_raw
    test_raw, held_folds = 0.0, kfolds(folds)
    for k in held_folds:
        oof[folds == k], fold_test = run((folds != k) & ok, [frame[folds == k], test], f"dot fold {k}")
        test_raw = test_raw + fold_test / len(held_folds)
    return oof, test_raw


def fit_linear(x, x_test, y, ok, folds, validation: dict, task: str, n_classes: int, loss, cfg, rd: RunDir):
    """The linear member's (out-of-fold predictions, test predictions, {which models: the strength they fitted}),
    on the same rows as LightGBM's (`x`, `x_test`: linear.design's). Its strength is the one of linear.strengths
    whose predictions had the lowest `loss(predictions, rows)` (the blend's) on rows it then does not score, as
    the network's epochs are: k-fold's first two folds fit each strength, and each fold is scored at the one the
    other's held rows chose (crossed); the test: the folds' average. Time: the strength chosen on the horizon
    before the holdout scores the holdout, and the refit (every row) fits the one the holdout chooses once it is
    scored."""
    from pipelines.tabular import linear

    name, grid = linear.strengths(task)
    oof = np.full((len(y), *([n_classes] if n_classes > 1 else [])), np.nan)

    def model(rows: np.ndarray, evals: list, label: str):
        """fit(strength) -> the predictions of `evals` by the model of `rows` at that strength (a part each; the
        rows sliced once for every strength)."""
        x_fit, y_fit = x[rows], y[rows]

        def fit(strength: float) -> list[np.ndarray]:
            def compute():
                return linear.fit_predict(x_fit, y_fit, evals, task, n_classes, strength)

            return part(rd, f"{label} {name}={strength:g}", ".npz", compute, save_arrays, load_arrays, "linear")

        return fit

    def best(rows, preds: list[np.ndarray]) -> float:  # the strength of the lowest loss on `rows`
        losses = [loss(p, rows) for p in preds]
        # no loss a number (no labelled row among them): the middle of the grid, no better reason for another
        return grid[int(np.nanargmin(losses))] if np.isfinite(losses).any() else grid[len(grid) // 2]

    print(f"linear: {name} of {', '.join(f'{g:g}' for g in grid)}, chosen on held rows")
    if validation["kind"] == "time":
        before, inner, held = folds == -1, folds == 1, folds == 0
        choice = model(before & ok, [x[inner]], "linear choice")
        chosen = best(inner, [choice(g)[0] for g in grid])
        holdout = model(~held & ok, [x[held], x_test], "linear holdout")
        scored = {g: holdout(g) for g in grid}  # each: the refit's strength is chosen on the holdout
        oof[held], test_raw = scored[chosen]
        if not cfg.refit:
            return oof, test_raw, {"holdout": chosen}
        latest = best(held, [scored[g][0] for g in grid])
        return oof, model(ok, [x_test], "linear refit")(latest)[0], {"holdout": chosen, "refit": latest}
    held_folds = kfolds(folds)

    def fold(i: int):
        k = held_folds[i]
        return model((folds != k) & ok, [x[folds == k], x_test], f"linear fold {k}")

    tried = []
    for i in (0, 1):  # the first two folds fit every strength
        fit = fold(i)
        tried.append({g: fit(g) for g in grid})
    chosen = crossed(*(best(folds == held_folds[i], [tried[i][g][0] for g in grid]) for i in (0, 1)), len(held_folds))
    test_raw = 0.0
    for i, k in enumerate(held_folds):
        oof[folds == k], fold_test = tried[i][chosen[i]] if i < 2 else fold(i)(chosen[i])
        test_raw = test_raw + fold_test / len(held_folds)
    return oof, test_raw, {"folds": chosen}


def embedding_columns(frame: pd.DataFrame, test: pd.DataFrame, tables: dict):
    """`fit_gbdt`'s `extra`: for the model `which`, the rows' embedding vectors of the network fitted on its rows
    (looked up by each column's category codes), for train and test, and their names."""

    def extra(which):
        chosen = tables[which]
        names = [f"{col}_emb{j}" for col, table in chosen.items() for j in range(table.shape[1])]
        rows = [np.concatenate([t[f[c].to_numpy()] for c, t in chosen.items()], axis=1) for f in (frame, test)]
        return rows[0], rows[1], names

    return extra
