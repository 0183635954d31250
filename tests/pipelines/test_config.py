import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import pytest

from pipelines import registry
from pipelines.config import ConfigError, check, resolve, result_settings, sections, setting


@dataclass
class Cfg:
    epochs: int = 1
    lr: float = 1e-3
    name: str = "run"
    amp: bool = False
    layers: list[int] = field(default_factory=lambda: [1000, 500])
    max_lr: float | None = None


def test_defaults_file_then_command_line(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('epochs = 5\nlayers = [200, 100]\nname = "big"\n')
    cfg = resolve(Cfg(), f, ["epochs=3", "lr=3e-3", "amp=true", "max_lr=0.1"])
    assert cfg == Cfg(epochs=3, lr=3e-3, name="big", amp=True, layers=[200, 100], max_lr=0.1)


def test_lists_from_the_command_line():
    assert resolve(Cfg(), None, ["layers=[10,20]"]).layers == [10, 20]
    assert resolve(Cfg(), None, ["layers=10,20"]).layers == [10, 20]
    assert resolve(Cfg(), None, ["max_lr=none"]).max_lr is None


@pytest.mark.parametrize(
    "override, message",
    [
        ("epoch=3", r"unknown config key\(s\) \['epoch'\] \(did you mean epochs=\?\); valid keys"),
        ("epochs=three", "'epochs': 'three' is not a valid int"),
        ("epochs=2.5", "not a valid int"),
        ("amp=maybe", "not a boolean"),
        ("layers=[1,x]", "'layers\\[1\\]': 'x' is not a valid int"),
        ("layers=[1,2", "not a JSON list"),
        ("epochs", "not of the form key=value"),
    ],
)
def test_bad_overrides_are_clear_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        resolve(Cfg(), None, [override])


def test_bad_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        resolve(Cfg(), tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        resolve(Cfg(), bad)
    typo = tmp_path / "typo.toml"
    typo.write_text("lrr = 1.0")
    with pytest.raises(ConfigError, match=str(typo).replace("\\", "\\\\") + r": unknown config key"):
        resolve(Cfg(), typo)


@dataclass
class Ranged:
    epochs: int = setting(10, ge=1)
    lr: float = setting(3e-3, gt=0)
    ps: list[float] = setting(factory=lambda: [0.1, 0.3], ge=0, lt=1)
    schedule: Literal["one_cycle", "sgdr"] = "one_cycle"


@dataclass
class Child(Ranged):  # changes defaults only: the parent's ranges and choices still hold
    epochs: int = 5
    schedule: str = "sgdr"


@pytest.mark.parametrize("cls", [Ranged, Child])
@pytest.mark.parametrize(
    "override, message",
    [
        ("epochs=0", r"'epochs': 0 is out of range \(valid: >= 1\)"),
        ("lr=-1", r"'lr': -1.0 is out of range \(valid: > 0\)"),
        ("lr=0", "out of range"),
        ("ps=[0.1,1.0]", r"'ps': item 1.0 of \[0.1, 1.0\] is out of range \(valid: >= 0 and < 1\)"),
        ("schedule=cosine", r"'schedule': 'cosine' is not one of 'one_cycle', 'sgdr'"),
    ],
)
def test_values_outside_their_range_or_choices_are_refused(cls, override, message):
    with pytest.raises(ConfigError, match=message):
        resolve(cls(), None, [override])


def test_ranges_are_checked_in_toml_files_too(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("epochs = 0\n")
    with pytest.raises(ConfigError, match=r"c.toml and the command line: config key 'epochs'"):
        resolve(Ranged(), f)
    assert resolve(Child(), None, ["epochs=1", "lr=1e-9", "ps=[0,0.99]"]).schedule == "sgdr"


@pytest.mark.parametrize("comp", ["rossmann", "dogs-vs-cats", "dog-breed", "planet", "cifar10"])
def test_every_competition_default_config_is_within_its_ranges(comp):
    from pipelines.__main__ import competition

    check(competition(comp).Config())


@pytest.mark.parametrize("comp", ["rossmann", "dogs-vs-cats", "dog-breed", "planet", "cifar10"])
def test_every_field_belongs_to_exactly_one_step(comp):
    import dataclasses

    from pipelines.__main__ import competition

    cls = competition(comp).Config
    steps = sections(cls)
    names = [k for keys in steps.values() for k in keys]
    assert sorted(names) == sorted(f.name for f in dataclasses.fields(cls))  # all, none twice
    assert steps["features"] and set(steps) == {"features", "train"}
    kept = result_settings(cls())
    assert set(kept) <= set(names) and ({"epochs", "lr"} <= set(kept) or {"net_epochs", "net_lr"} <= set(kept))


def test_fingerprint_leaves_out_settings_that_do_not_shape_the_result():
    @dataclass
    class Cfg2:
        rows: int = setting(10, step="features")
        lr: float = setting(1e-3, gt=0)
        n_seeds: int = setting(1, result=False)
        device: str = "auto"

    assert sections(Cfg2) == {"features": ["rows"], "train": ["lr", "n_seeds", "device"]}
    assert result_settings(Cfg2()) == {"rows": 10, "lr": 1e-3, "device": "auto"}
    assert result_settings(Cfg2(), ("features",)) == {"rows": 10}


@pytest.mark.parametrize(
    "comp, overrides, message",
    [
        (
            "rossmann",
            ["net_epochs=3", "net_epochs=5"],
            r"config key 'net_epochs' given twice \(net_epochs=3, net_epochs=5\)",
        ),
        ("rossmann", ["net_lr=inf"], r"'net_lr': 'inf' is not a finite number"),
        ("rossmann", ["net_lr=nan"], r"'net_lr': 'nan' is not a finite number"),
        ("rossmann", ["net_bs=100000000"], r"'net_bs': 100000000 is out of range \(valid: >= 0 and <= 1000000\)"),
        (
            "rossmann",
            ["net_epochs=1000000000"],
            r"'net_epochs': 1000000000 is out of range \(valid: >= 0 and <= 1000\)",
        ),
        ("rossmann", ["horizon=100000"], r"'horizon': 100000 is out of range"),
        ("planet", ["sizes=[]"], r"'sizes': \[\] needs at least 1 item"),
        (
            "planet",
            ["sizes=[100000]"],
            r"'sizes': item 100000 of \[100000\] is out of range \(valid: >= 16 and <= 2048\)",
        ),
        ("cifar10", ["sizes=[]"], r"'sizes': \[\] needs at least 1 item"),
    ],
)
def test_the_drills_bad_values_are_one_clear_line(comp, overrides, message):
    with pytest.raises(ConfigError, match=message):
        resolve(registry.load(comp).Config(), None, overrides)


def test_an_unknown_device_names_the_choices():
    from models.device import pick_device

    with pytest.raises(ValueError, match="device='tpu' is not a torch device: use auto, cpu, cuda, cuda:N or mps"):
        pick_device("tpu")
    assert str(pick_device("cpu")) == "cpu"


def test_make_config_lists_every_key_with_its_description(capsys):
    """`make config COMP=x`: every key of every competition (and of the tabular and image cards) with its type,
    default, valid range or choices, step and the description written beside the field; none without one."""
    from pipelines import registry
    from pipelines.__main__ import main
    from pipelines.config import describe
    from pipelines.tabular import TabularConfig
    from pipelines.vision.config import VisionConfig

    for cls in {registry.load(name).Config for name in registry.names()} | {TabularConfig, VisionConfig}:
        rows = describe(cls)
        assert [r["key"] for r in rows] == [f.name for f in dataclasses.fields(cls)]
        assert not [r["key"] for r in rows if not r["description"]], cls
    assert main(["config", "rossmann", "--keys"]) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if row.startswith("validation "))
    assert "auto | time | kfold" in line and '"auto"' in line and "features" in line
    assert next(row for row in out.splitlines() if row.startswith("net_epochs ")).split()[1:3] == ["int", "10"]
