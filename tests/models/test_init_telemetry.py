import json

import torch
from torch import nn

from models.data import tensor_loader
from models.init import lsuv_init
from models.learner import Learner
from models.telemetry import ActivationStats


def deep_net(scale=5.0):
    torch.manual_seed(0)
    layers = []
    for _ in range(6):
        lin = nn.Linear(32, 32)
        nn.init.normal_(lin.weight, std=scale / 32**0.5)  # a bad init: activations blow up layer by layer
        layers += [lin, nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(32, 1))


def test_lsuv_gives_unit_stats_layer_by_layer():
    net = deep_net()
    x = torch.randn(512, 32)
    report = lsuv_init(net, x, tol=1e-3)
    assert len(report) == 7 and report[0]["layer"] == "0"
    outs = {}
    hooks = [
        m.register_forward_hook(lambda m, a, o, i=i: outs.__setitem__(i, o))
        for i, m in enumerate(net)
        if isinstance(m, nn.Linear)
    ]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    for out in outs.values():
        assert abs(out.mean().item()) < 1e-3 and abs(out.std().item() - 1) < 1e-3
    assert net.training  # mode restored


def test_activation_telemetry_records_and_plots(tmp_path):
    net = deep_net(scale=1.0)
    with torch.no_grad():
        net[10].bias.fill_(-100.0)  # a dead layer: its ReLU outputs only zeros
    x, y = torch.randn(256, 32), torch.randn(256)
    learn = Learner(
        net,
        tensor_loader(x, y, batch_size=32, shuffle=True),
        None,
        device="cpu",
        cbs=[ActivationStats(tmp_path, every=2)],
    )
    learn.loss_func = lambda p, t: nn.functional.mse_loss(p.squeeze(-1), t)
    learn.fit(1, 1e-3)
    stats = json.loads((tmp_path / "activations.json").read_text())
    assert list(stats) == ["1", "3", "5", "7", "9", "11"]  # the ReLUs
    assert len(stats["1"]["mean"]) == 4  # 8 batches, every 2nd recorded
    assert min(stats["11"]["near_zero"]) == 1.0 and max(stats["1"]["near_zero"]) < 0.9
    assert (tmp_path / "activations.png").stat().st_size > 1000
