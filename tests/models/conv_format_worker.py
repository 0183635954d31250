"""Compares channels_last against NCHW for every convolution shape of the shipped nets (run by test_conv_formats).

Runs in a subprocess so that a convolution that crashes the process (oneDNN bug uxlfoundation/oneDNN#6035:
1x1 stride-2 backward_weights on AVX-512 CPUs writes past its workspace) fails one test, with the shape that
crashed named, instead of aborting the whole test session. Prints one line per shape before checking it.
"""

from __future__ import annotations

import copy
import sys

import torch
from torch import nn

from models.resnet import ResNet, WhitenedNet
from models.vision import create_body

BATCH_SIZES = range(1, 9)


def shipped_nets() -> dict[str, tuple[nn.Module, int]]:
    """Every net the competitions build (default and tested widths), with the image size it sees."""
    nets = {
        "whitened default": (WhitenedNet(10), 32),
        "whitened wide": (WhitenedNet(10, (128, 384, 384), (3, 3, 3)), 32),
        "whitened tests": (WhitenedNet(10, (16, 32, 32), (2, 1, 2)), 32),
    }
    for preact in (True, False):
        for widths, depths in (((64, 128, 256), (1, 1, 1)), ((8, 16), (1, 1)), ((16, 32, 64), (1, 2, 1))):
            nets[f"resnet {widths} preact={preact}"] = (ResNet(10, widths, depths, preact), 32)
    for arch in ("efficientnet_lite0", "resnet34", "resnet50"):
        body = create_body(arch, pretrained=False)
        nets[arch] = (nn.Sequential(body.early, body.late), 64)
    return nets


def conv_cases() -> dict[tuple, tuple[nn.Conv2d, tuple[int, int, int]]]:
    """Unique (convolution settings, input C x H x W) across the shipped nets -> (a copy of the layer, input shape)."""
    cases = {}
    for name, (net, size) in shipped_nets().items():
        hooks = []
        for m in net.modules():
            if isinstance(m, nn.Conv2d):

                def record(mod, args, out, net_name=name):
                    shape = tuple(args[0].shape[1:])
                    key = (
                        mod.in_channels,
                        mod.out_channels,
                        mod.kernel_size,
                        mod.stride,
                        mod.padding,
                        mod.dilation,
                        mod.groups,
                        mod.bias is not None,
                        shape,
                    )
                    cases.setdefault(key, (copy.deepcopy(mod).float(), shape, net_name))

                hooks.append(m.register_forward_hook(record))
        with torch.no_grad():
            net.eval()(
                torch.randint(0, 255, (1, 3, size, size), dtype=torch.uint8)
                if hasattr(net, "normalize")
                else torch.randn(1, 3, size, size)
            )
        for h in hooks:
            h.remove()
    return cases


def run(conv: nn.Conv2d, x: torch.Tensor, channels_last: bool):
    conv = copy.deepcopy(conv).requires_grad_(True)  # frozen layers (the whitening stem) too
    if channels_last:
        conv = conv.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    x = x.detach().requires_grad_(True)
    out = conv(x)
    g = torch.Generator().manual_seed(1)
    out.backward(
        torch.randn(out.shape, generator=g).to(
            memory_format=torch.channels_last if channels_last else torch.contiguous_format
        )
    )
    grads = [x.grad, conv.weight.grad] + ([conv.bias.grad] if conv.bias is not None else [])
    return [out.detach()] + [t.contiguous() for t in grads]


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    scale = b.abs().max().item() + 1e-6
    return (a - b).abs().max().item() <= 1e-4 * scale


def main() -> int:
    torch.manual_seed(0)
    bad = 0
    cases = conv_cases()
    print(f"{len(cases)} convolution shapes", flush=True)
    for (cin, cout, k, s, p, d, g, bias, shape), (conv, _, net) in cases.items():
        label = (
            f"Conv2d({cin}, {cout}, k={k}, stride={s}, pad={p}, dilation={d}, groups={g}, bias={bias}) "
            f"on {shape} ({net})"
        )
        print(f"checking {label}", flush=True)
        for n in BATCH_SIZES:
            x = torch.randn(n, *shape)
            ref, got = run(conv, x, False), run(conv, x, True)
            for what, a, b in zip(("output", "input grad", "weight grad", "bias grad"), got, ref, strict=False):
                if not close(a, b):
                    print(f"MISMATCH {label} batch {n}: {what} differs by {(a - b).abs().max().item():.3g}", flush=True)
                    bad += 1
    print(f"done: {len(cases)} shapes x batch sizes 1-{max(BATCH_SIZES)}, {bad} mismatches", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
