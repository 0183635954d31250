"""Rossmann's own sections of a run's report page (`make report`, pipelines/tracking.py): what the network
learned (a PCA map of its Store and State embeddings) and which features it relies on (permutation
importance on the validation days), beside the boosting member's gain importance."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import torch

from features import TabularProcessor
from features.io import atomic_path, read_feather, write_csv
from models.data import tensor_loader
from models.learner import Predictor, read_checkpoint
from models.tabular import frame_tensors, principal_components
from pipelines.paths import Paths
from pipelines.rossmann.config import RossmannConfig, net_columns
from pipelines.rossmann.model import build_model, log_target, rmspe_from_log, seed_dir


def _model(paths: Paths, run: str, proc: TabularProcessor, seed: int):
    """The validated (not refit) network of `seed` and its (categorical, continuous) columns: its predictions
    on the validation days are out of sample."""
    state = read_checkpoint(seed_dir(paths, run, seed) / "checkpoint.pt")
    cfg = RossmannConfig(**_config(paths, run, seed))
    model = build_model(cfg, proc, max_log_sales=1.0)
    model.load_state_dict(state["model"])
    return model.eval(), net_columns(cfg, proc)


def _config(paths: Paths, run: str, seed: int) -> dict:
    full = json.loads((seed_dir(paths, run, seed) / "config.json").read_text())["full"]
    return {k: v for k, v in full.items() if k in RossmannConfig.__dataclass_fields__}


def permutation_importance(paths: Paths, run: str, seed: int, repeats: int = 1) -> pd.DataFrame:
    """RMSPE on the validation days with each input column shuffled (seeded), minus the intact RMSPE: how much
    the network relies on that column. Cached in runs/RUN/permutation_importance.csv."""
    out = paths.runs / run / "permutation_importance.csv"
    if out.is_file():
        return pd.read_csv(out)
    proc = TabularProcessor.load(paths.processed / "procs.json")
    valid = read_feather(paths.processed / "valid.feather").query("Sales > 0")
    net, (cats, conts) = _model(paths, run, proc, seed)
    model = Predictor(net, device="cpu", amp="off")
    x_cat, x_cont = frame_tensors(valid, cats, conts)
    target = log_target(valid.Sales).numpy()

    def score(cat, cont) -> float:
        preds = model.get_preds(tensor_loader(cat, cont, batch_size=8192, shuffle=False), with_targets=False)[0]
        return rmspe_from_log(preds.numpy(), target)

    base, rng, rows = score(x_cat, x_cont), np.random.default_rng(0), []
    for names, tensor in ((cats, x_cat), (conts, x_cont)):
        for i, name in enumerate(names):
            drops = []
            for _ in range(repeats):
                shuffled = tensor.clone()
                shuffled[:, i] = tensor[torch.from_numpy(rng.permutation(len(tensor))), i]
                drops.append(score(shuffled, x_cont) if tensor is x_cat else score(x_cat, shuffled))
            rows.append({"feature": name, "rmspe_increase": float(np.mean(drops)) - base})
    table = pd.DataFrame(rows).sort_values("rmspe_increase", ascending=False)
    write_csv(table, out)
    return table


def embedding_map(paths: Paths, run: str, seed: int):
    """A PNG: the first two principal components of the Store embeddings (coloured by StoreType) and of the
    State embeddings (labelled). Saved as runs/RUN/embeddings_pca.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = paths.runs / run / "embeddings_pca.png"
    proc = TabularProcessor.load(paths.processed / "procs.json")
    model, (cats, _) = _model(paths, run, proc, seed)
    vocab = proc.categorify.vocab
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, col in zip(axes, ("Store", "State"), strict=True):
        if col not in cats:
            ax.set_title(f"{col}: not a column of this run")
            continue
        weights = model.embeds[cats.index(col)].weight.detach().float().numpy()[1:]  # 0 = unseen
        xy = principal_components(weights, 2)
        if col == "Store":
            store = pd.read_csv(paths.raw / "store.csv").set_index("Store").StoreType
            kinds = store.reindex(vocab["Store"]).fillna("?").to_numpy()
            for kind in sorted(set(kinds)):
                ax.scatter(*xy[kinds == kind].T, s=8, label=f"StoreType {kind}")
            ax.legend(fontsize=8)
        else:
            ax.scatter(*xy.T, s=20)
            for (x, y), name in zip(xy, vocab["State"], strict=True):
                ax.annotate(str(name), (x, y), fontsize=8)
        ax.set(title=f"{col} embeddings ({weights.shape[1]} dims), PCA", xlabel="PC 1", ylabel="PC 2")
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out


def report_sections(paths: Paths, run: str) -> list[tuple[str, str]]:
    """(title, html) sections for pipelines/tracking.py's report page of this run."""
    from pipelines.tracking import img_tag

    result = json.loads((paths.runs / run / "result.json").read_text())
    if not result.get("seeds"):
        return []
    seed = result["seeds"][0]
    sections = [("Embeddings (network, first seed)", img_tag(embedding_map(paths, run, seed), "embedding PCA"))]
    perm = permutation_importance(paths, run, seed)
    sections.append(
        (
            "Permutation importance on the validation days (network, first seed)",
            perm.to_html(index=False, float_format=lambda v: f"{v:.5f}"),
        )
    )
    gain = paths.runs / run / "gbdt" / "feature_importance.csv"
    if gain.is_file():
        top = pd.read_csv(gain).head(25)
        sections.append(
            ("Boosting member: gain importance, top 25", top.to_html(index=False, float_format=lambda v: f"{v:,.0f}"))
        )
    return sections
