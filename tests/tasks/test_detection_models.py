"""SSD300 on VOC: sizes, taps, loss module, per-image loss, VGG weights (never downloaded)."""

from __future__ import annotations

import logging

import pytest
import torch
from torchvision.models.detection.ssd import SSD
from torchvision.models.vgg import cfgs, make_layers

from albench.errors import ConfigError
from albench.strategies.learn_loss import LossPredictionModule
from albench.tasks.detection.models import build_ssd300, resolve_backbone_weights
from albench.tasks.detection.ssd import match_anchors
from albench.tasks.detection.voc import VocTask


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch, tmp_path):
    """No test may reach the network: any download attempt fails; an empty torch cache."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"download attempted: {args[:1]}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


@pytest.fixture(scope="module")
def voc_model():
    torch.manual_seed(0)
    return build_ssd300(num_classes=21)


def test_ssd300_with_21_classes_has_the_reference_parameter_count(voc_model):
    assert sum(p.numel() for p in voc_model.parameters()) == 26_285_486
    assert all(p.requires_grad for p in voc_model.parameters())  # every VGG layer trains


def test_six_taps_have_the_ssd300_shapes_and_the_loss_module_size():
    task = VocTask(backbone_weights="none")
    torch.manual_seed(0)
    model = task.build_model().eval()
    with torch.no_grad():
        out = task.step(model, task.example_batch(2), train=False)
    assert [tuple(t.shape[1:]) for t in out.taps] == [
        (512, 38, 38),  # conv4_3
        (1024, 19, 19),  # conv7 (fc7)
        (512, 10, 10),  # conv8_2
        (256, 5, 5),  # conv9_2
        (256, 3, 3),  # conv10_2
        (256, 1, 1),  # conv11_2
    ]
    assert task.tap_channels == tuple(t.shape[1] for t in out.taps)
    torch.testing.assert_close(out.embedding, out.taps[1].mean(dim=(2, 3)))  # (2, 1024)
    module = LossPredictionModule(task.tap_channels)
    assert sum(p.numel() for p in module.parameters()) == 361_985
    assert module(out.taps).shape == (2,)
    assert out.output.anchors.shape == (8732, 4) and out.output.cls_logits.shape == (2, 8732, 21)


def test_ssd300_per_image_loss_relates_to_torchvisions_batch_loss(voc_model):
    task = VocTask(backbone_weights="none")
    batch = task.example_batch(2)
    voc_model.train()
    with torch.no_grad():
        out = task.step(voc_model, batch, train=True)
        targets = [
            {"boxes": b[(lab > 0) & ~d], "labels": lab[(lab > 0) & ~d]}
            for b, lab, d in zip(batch.boxes, batch.labels, batch.difficult, strict=True)
        ]
        ref = SSD.forward(voc_model.ssd, [im.float() / 255 for im in batch.images], targets)
    valid = (batch.labels > 0) & ~batch.difficult
    positives = (match_anchors(batch.boxes, valid, out.output.anchors) >= 0).sum(dim=1)
    total = (out.loss * positives.clamp(min=1)).sum() / positives.sum().clamp(min=1)
    torch.testing.assert_close(total, ref["bbox_regression"] + ref["classification"])


def _vgg_features_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    features = make_layers(cfgs["D"])  # VGG-16's conv layers only (14.7 M parameters)
    return {f"features.{k}": v.half() for k, v in features.state_dict().items()}


def test_vgg_weights_load_from_a_path_and_from_the_torch_cache(tmp_path, caplog):
    state = _vgg_features_state()
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    model = build_ssd300(21, path)
    backbone = model.ssd.backbone
    torch.testing.assert_close(backbone.features[0].weight, state["features.0.weight"].float())
    torch.testing.assert_close(backbone.features[21].bias, state["features.21.bias"].float())
    # conv5_1 (VGG features.24) lives after pool4 in SSD300's first extra block
    torch.testing.assert_close(backbone.extra[0][1].weight, state["features.24.weight"].float())

    task = VocTask(backbone_weights=str(path))
    assert task.backbone_source == f"imagenet:{path}"

    # "auto" without the cached file: from scratch, said in the log
    auto = VocTask()
    with caplog.at_level(logging.WARNING):
        auto.build_model()
    assert auto.backbone_source == "scratch" and "from scratch" in caplog.text
    # "auto" with torchvision's file in the cache: used, no download
    cache = resolve_backbone_weights("auto")
    assert cache is None
    cached = (
        tmp_path / "torch-home" / "hub" / "checkpoints" / "vgg16_features-amdegroot-88682ab5.pth"
    )
    cached.parent.mkdir(parents=True)
    torch.save(state, cached)
    assert resolve_backbone_weights("auto") == cached
    task = VocTask()
    torch.testing.assert_close(
        task.build_model().ssd.backbone.features[2].weight, state["features.2.weight"].float()
    )
    assert task.backbone_source == f"imagenet:{cached}"


def test_ssd_pytorch_reducedfc_layout_maps_fc6_and_fc7(voc_model):
    from albench.tasks.detection.models import vgg_to_ssd300_state

    # ssd.pytorch's vgg16_reducedfc.pth: features without prefix, fc6 at 31 and fc7 at 33
    state = {k.removeprefix("features."): v for k, v in _vgg_features_state().items()}
    state["31.weight"], state["31.bias"] = torch.zeros(1024, 512, 3, 3), torch.zeros(1024)
    state["33.weight"], state["33.bias"] = torch.zeros(1024, 1024, 1, 1), torch.zeros(1024)
    mapped = vgg_to_ssd300_state(state)
    reference = voc_model.ssd.state_dict()
    assert len(mapped) == 30  # 13 VGG convs + fc6 + fc7, weight and bias each
    for key, value in mapped.items():
        assert reference[key].shape == value.shape, key
    assert "backbone.extra.0.7.1.weight" in mapped and "backbone.extra.0.7.3.weight" in mapped


def test_bad_weights_path_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="backbone_weights = .*no such file"):
        VocTask(backbone_weights=str(tmp_path / "missing.pth")).build_model()
    junk = tmp_path / "junk.pth"
    torch.save({"fc.weight": torch.zeros(2)}, junk)
    with pytest.raises(ConfigError, match="not a VGG-16 state dict"):
        build_ssd300(21, junk)
