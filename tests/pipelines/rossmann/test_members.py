"""The Rossmann ensemble on the embedded sample: refit on all rows, the boosting member with the network's
embeddings as features, the validated blend, and what is reused when only one member's settings change."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch

from features import TabularProcessor
from models.tabular import TabularModel, emb_sz_rule, embedding_features, principal_components
from pipelines.rossmann import RossmannConfig, members, predict, train
from pipelines.rossmann.model import fit_rows, load_processed

pytestmark = pytest.mark.slow
SMALL = dict(epochs=2, lr=1e-2, bs=256, layers=[64, 32], gbdt_rounds=60, gbdt_leaves=15)


def test_default_run_refits_every_member_and_blends_them(featured):
    cfg = RossmannConfig(**SMALL)
    summary = train(featured, cfg, "e")
    run = featured.runs / "e"
    for part in ("s0", "refit/s0", "gbdt", "refit/gbdt"):
        assert (run / part / "result.json").is_file(), part
    rows = {
        name: len(pd.read_feather(featured.processed / f"{name}.feather").query("Open == 1 and Sales > 0"))
        for name in ("train", "valid")
    }
    seed, refit_seed = (
        json.loads((run / "s0/result.json").read_text()),
        json.loads((run / "refit/s0/result.json").read_text()),
    )
    assert seed["rows"] == rows["train"] and refit_seed["rows"] == rows["train"] + rows["valid"]
    assert "valid_rmspe" in seed and "valid_rmspe" not in refit_seed  # the refit has no held-out days
    assert (
        summary["gbdt_refit"]["rounds"] == summary["gbdt"]["rounds"]
        and summary["gbdt_refit"]["rows"] == refit_seed["rows"]
    )
    w = summary["weights"]
    assert (
        set(w) == {"nn", "gbdt"} and all(v >= 0 for v in w.values()) and sum(w.values()) == pytest.approx(1, abs=1e-5)
    )
    assert (
        summary["valid_rmspe"]
        == summary["members"]["blend"]
        <= max(summary["members"]["nn"], summary["members"]["gbdt"])
    )
    importance = pd.read_csv(run / "gbdt" / "feature_importance.csv")
    # the network's Store embedding is a feature: every dimension, or its top gbdt_embedding_dims components
    width = emb_sz_rule(TabularProcessor.load(featured.processed / "procs.json").categorify.cardinality()["Store"])
    dims = min(cfg.gbdt_embedding_dims or width, width)
    prefix = "Store_pc" if dims < width else "Store_e"
    assert importance.feature.str.startswith(prefix).sum() == dims

    out = predict(featured, cfg, "e")
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["refit"] and meta["runs"] == [str(run / "refit" / "s0"), str(run / "refit" / "gbdt")]
    sub = pd.read_csv(out).set_index("Id")
    members = pd.read_feather(run / "test_members.feather").set_index("Id").loc[sub.index]
    open_ = sub.Sales > 0
    # the submission is the blend, in log space, of the members' own predictions (each without its own shift)
    logs = sum(w[m] * (np.log(members.loc[open_, m]) - summary["shifts"][m]) for m in w)
    assert np.allclose(np.log(sub.Sales[open_]), logs + summary["log_shift"], atol=1e-6)


def test_changing_only_the_boosting_member_reuses_the_networks(featured, capsys):
    first = train(featured, RossmannConfig(**SMALL), "r")
    again = train(featured, RossmannConfig(**SMALL), "r2")
    assert first["gbdt"]["valid_rmspe_raw"] == again["gbdt"]["valid_rmspe_raw"]  # deterministic for a seed
    capsys.readouterr()
    changed = train(featured, RossmannConfig(**{**SMALL, "gbdt_leaves": 7}), "r")
    out = capsys.readouterr().out
    assert out.count("already trained with this config") == 2  # s0 and refit/s0: the networks are not retrained
    assert "gbdt on" in out and "refit gbdt on" in out
    assert changed["gbdt"]["valid_rmspe_raw"] != first["gbdt"]["valid_rmspe_raw"]


def test_refit_off_submits_the_validated_members(featured):
    cfg = RossmannConfig(**SMALL, refit=False)
    summary = train(featured, cfg, "v")
    assert not summary["refit"] and not (featured.runs / "v" / "refit").exists()
    meta = json.loads(predict(featured, cfg, "v").with_suffix(".json").read_text())
    assert meta["runs"] == [str(featured.runs / "v" / "s0"), str(featured.runs / "v" / "gbdt")]


def test_embedding_features_are_the_networks_vectors():
    model = TabularModel([(5, 3), (7, 2)], 1, layers=(4,), ps=(0.0,))
    codes = np.array([[0, 6], [4, 1], [4, 0]])
    x, names = embedding_features(model.state_dict(), codes, ["Store", "Day"], ["Day"])
    assert names == ["Day_e0", "Day_e1"]
    assert np.array_equal(x, model.embeds[1].weight.detach().numpy()[[6, 1, 0]])
    with pytest.raises(KeyError, match="Week"):
        embedding_features(model.state_dict(), codes, ["Store", "Day"], ["Week"])


def test_embedding_features_as_principal_components():
    """dims=k: each code's row of the table on the table's top k principal components (centred, uncorrelated, by
    decreasing variance), each component's sign fixed by its largest loading, not by the LAPACK that computed it."""
    torch.manual_seed(0)
    model = TabularModel([(5, 3), (40, 6)], 1, layers=(4,), ps=(0.0,))
    table = model.embeds[1].weight.detach().numpy()
    codes = np.array([[0, 6], [4, 1], [4, 0], [1, 39]])
    x, names = embedding_features(model.state_dict(), codes, ["Store", "Day"], ["Day"], dims=2)
    assert names == ["Day_pc0", "Day_pc1"] and x.shape == (4, 2) and x.dtype == np.float32
    pcs = principal_components(table, 2)
    assert np.array_equal(x, pcs[[6, 1, 0, 39]])
    assert np.allclose(pcs.mean(axis=0), 0, atol=1e-5)  # centred
    assert abs(np.corrcoef(pcs.T)[0, 1]) < 1e-4  # uncorrelated
    assert pcs[:, 0].var() >= pcs[:, 1].var()  # by decreasing variance
    # the components' variances are the top of the full decomposition's (PCA by another route: the covariance)
    eig = np.linalg.eigvalsh(np.cov(table.T))[::-1]
    assert np.allclose(pcs.var(axis=0, ddof=1), eig[:2], rtol=1e-3)
    # the sign is fixed by the data, not by LAPACK: each component's largest loading is positive
    loadings = np.linalg.lstsq(table - table.mean(axis=0), pcs, rcond=None)[0]
    assert all(col[np.abs(col).argmax()] > 0 for col in loadings.T)
    # at least the table's width: every dimension, unprojected
    assert embedding_features(model.state_dict(), codes, ["Store", "Day"], ["Day"], dims=6)[1][0] == "Day_e0"


def test_the_boosting_member_alone_trains_no_network(featured):
    cfg = RossmannConfig(members=["gbdt"], gbdt_embeddings=[], gbdt_rounds=30, gbdt_leaves=15)
    summary = train(featured, cfg, "g")
    assert summary["seeds"] == [] and not (featured.runs / "g" / "s0").exists()
    assert summary["weights"] == {"gbdt": 1.0} and summary["valid_rmspe"] == summary["members"]["gbdt"]
    sub = pd.read_csv(predict(featured, cfg, "g"))
    assert len(sub) == len(pd.read_csv(featured.raw / "sample_submission.csv")) and sub.Sales.notna().all()


def test_boosting_seeds_are_averaged_in_log_space_and_refit_each_with_its_own_rounds(featured):
    import lightgbm as lgb

    cfg = RossmannConfig(members=["gbdt"], gbdt_embeddings=[], gbdt_rounds=40, gbdt_leaves=15, gbdt_seeds=2)
    summary = train(featured, cfg, "g2")
    run = featured.runs / "g2"
    assert summary["gbdt"]["models"] == ["model.txt", "model-2.txt"] and len(summary["gbdt"]["rounds"]) == 2
    assert summary["gbdt_refit"]["rounds"] == summary["gbdt"]["rounds"]
    proc, frames = load_processed(featured, cfg)
    x, _ = members.matrix(fit_rows(cfg, frames)[1], proc, {}, cfg)  # the validation days' sales rows
    logs = [lgb.Booster(model_file=str(run / "gbdt" / f)).predict(x) for f in ("model.txt", "model-2.txt")]
    assert not np.allclose(*logs)  # the seeds sample other rows and columns
    oof = pd.read_feather(run / "gbdt" / "valid_preds.feather").pred_log.to_numpy()
    assert np.allclose(oof, np.mean(logs, axis=0))
    one = train(featured, dataclasses.replace(cfg, gbdt_seeds=1), "g1")  # seed 0 alone: model.txt
    assert one["gbdt"]["rounds"] == summary["gbdt"]["rounds"][:1]
    sub = pd.read_csv(predict(featured, cfg, "g2")).set_index("Id")
    test = frames["test"].set_index("Id").loc[sub.index]
    xt, _ = members.matrix(test.reset_index(), proc, {}, cfg)
    refits = [lgb.Booster(model_file=str(run / "refit" / "gbdt" / f)).predict(xt) for f in ("model.txt", "model-2.txt")]
    open_ = (test.Open != 0).to_numpy()
    expect = np.exp(np.mean(refits, axis=0) + summary["log_shift"])
    assert np.allclose(sub.Sales.to_numpy()[open_], expect[open_], rtol=1e-6)


def test_columns_the_network_leaves_out_still_feed_the_boosting_member(featured):
    # Store is left out of the network too: its embeddings (gbdt_embeddings) must then come from another column.
    cfg = RossmannConfig(**SMALL, refit=False, nn_exclude=["StoreDowLevel", "Store"], gbdt_embeddings=["State"])
    summary = train(featured, cfg, "x")
    state = torch.load(featured.runs / "x" / "s0" / "checkpoint.pt", weights_only=True)
    full = RossmannConfig(**SMALL)
    assert len(state["extra"]["features"]["cont_names"]) == len(full.cont_names) - 1
    assert "StoreDowLevel" not in state["extra"]["features"]["cont_names"]
    assert "Store" not in state["extra"]["features"]["cat_names"]
    assert state["model"]["bn_cont.weight"].numel() == len(full.cont_names) - 1
    gain = pd.read_csv(featured.runs / "x" / "gbdt" / "feature_importance.csv").set_index("feature").gain
    assert {"StoreDowLevel", "Store", "State_e0"} <= set(gain.index)
    # the State embeddings the trees read are the network's (State's position moved when Store left)
    emb = state["model"][f"embeds.{state['extra']['features']['cat_names'].index('State')}.weight"]
    proc, frames = load_processed(featured, cfg)
    x, names = members.matrix(frames["valid"], proc, state["model"], cfg)
    state_cols = [i for i, n in enumerate(names) if n.startswith("State_e")]
    assert np.array_equal(x[:, state_cols], emb.numpy()[frames["valid"].State.to_numpy()])
    assert set(summary["weights"]) == {"nn", "gbdt"}
    assert len(pd.read_csv(predict(featured, cfg, "x"))) == len(pd.read_csv(featured.raw / "sample_submission.csv"))
    with pytest.raises(ValueError, match=r"nn_exclude.*\['Sotre'\] not a feature column"):
        train(featured, RossmannConfig(**SMALL, nn_exclude=["Sotre"]), "bad")


def test_the_default_network_columns_leave_out_store_dow_level_when_there_is_one():
    from types import SimpleNamespace

    from pipelines.rossmann.config import net_columns

    proc = SimpleNamespace(all_cat_names=["Store", "Store_na"], cont_names=["Promo", "StoreDowLevel"])
    assert net_columns(RossmannConfig(), proc) == (["Store", "Store_na"], ["Promo"])
    without = SimpleNamespace(all_cat_names=["Store"], cont_names=["Promo"])  # cont_names without it: no-op
    assert net_columns(RossmannConfig(), without) == (["Store"], ["Promo"])
    assert net_columns(RossmannConfig(nn_exclude=[]), proc) == (["Store", "Store_na"], ["Promo", "StoreDowLevel"])
    with pytest.raises(ValueError, match="StoreDowLvl"):
        net_columns(RossmannConfig(nn_exclude=["StoreDowLvl"]), proc)


def test_the_submission_applies_the_closure_factors_to_the_days_around_a_long_closure(featured):
    cfg = RossmannConfig(**SMALL, members=["gbdt"], gbdt_embeddings=[])
    fitted = train(featured, cfg, "c")["closure_factors"]
    assert fitted["days"] == cfg.closure_days == 7 and fitted["before"] > 0 and fitted["after"] > 0
    first = pd.read_csv(predict(featured, cfg, "c")).set_index("Id").Sales
    result = featured.runs / "c" / "result.json"
    chosen = {"days": 7, "before": 0.5, "after": 2.0}
    result.write_text(json.dumps({**json.loads(result.read_text()), "closure_factors": chosen}))
    second = pd.read_csv(predict(featured, cfg, "c")).set_index("Id").Sales
    test = pd.read_feather(featured.processed / "test.feather").set_index("Id").loc[first.index]
    before = (test.DaysBeforeLongClosed <= 7) & (test.Open == 1)
    after = (test.DaysAfterLongClosed <= 7) & ~before & (test.Open == 1)
    assert before.sum() >= 5 and after.sum() >= 5  # the sample's test days hold a long closure
    ratio = second / first
    assert np.allclose(ratio[before], 0.5 / fitted["before"], rtol=1e-6)
    assert np.allclose(ratio[after], 2.0 / fitted["after"], rtol=1e-6)
    rest = ~before & ~after & (test.Open == 1)
    assert np.allclose(ratio[rest], 1.0, rtol=1e-9) and (second[test.Open == 0] == 0).all()
