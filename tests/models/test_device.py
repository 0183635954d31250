"""Precision choices per device."""

import pytest
import torch

from models.device import pick_precision


def test_amp_modes_on_cpu():
    cpu = torch.device("cpu")
    assert pick_precision(cpu, "off").dtype is None
    assert pick_precision(cpu, "gpu").dtype is None  # CUDA-only autocast stays fp32 on a CPU
    assert pick_precision(cpu, "bf16").dtype is torch.bfloat16
    with pytest.raises(ValueError, match="fp16 is for GPUs"):
        pick_precision(cpu, "fp16")
    with pytest.raises(ValueError, match="expected auto, gpu"):
        pick_precision(cpu, "fast")
