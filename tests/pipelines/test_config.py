from dataclasses import dataclass, field

import pytest

from pipelines.config import ConfigError, resolve


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
        ("epoch=3", r"unknown config key\(s\) \['epoch'\]; valid keys"),
        ("epochs=three", "'epochs': 'three' is not a valid int"),
        ("epochs=2.5", "not a valid int"),
        ("amp=maybe", "not a boolean"),
        ("layers=[1,x]", "not a JSON list"),
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
