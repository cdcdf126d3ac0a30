"""The VOC reader on a small VOC-format tree written here, and the missing-data error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from albench.cli import main
from albench.config import ALConfig, TaskConfig, TrainConfig
from albench.contracts import Scan
from albench.errors import DatasetMissingError
from albench.loop import Job, run_job
from albench.strategies.vaal import VAALStrategy
from albench.tasks.detection.voc import VOC_CLASSES, VocTask
from albench.tracking import Tracker
from albench.training import Batches

OBJECT = """  <object>
    <name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>{difficult}
    <bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>
  </object>
"""


def _write_image(root: Path, year: str, name: str, objects, size=(40, 30)) -> None:
    """One JPEG and its XML annotation; ``objects`` = [(class, x1, y1, x2, y2, difficult)]."""
    voc = root / "VOCdevkit" / f"VOC{year}"
    (voc / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (voc / "Annotations").mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(len(name)).integers(0, 256, (size[1], size[0], 3))
    Image.fromarray(pixels.astype(np.uint8)).save(voc / "JPEGImages" / f"{name}.jpg")
    body = "".join(
        OBJECT.format(
            name=c,
            x1=x1,
            y1=y1,
            x2=x2,
            y2=y2,
            difficult="" if d is None else f"<difficult>{int(d)}</difficult>",
        )
        for c, x1, y1, x2, y2, d in objects
    )
    xml = (
        f"<annotation><folder>VOC{year}</folder><filename>{name}.jpg</filename>"
        f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>"
        f"<segmented>0</segmented>\n{body}</annotation>"
    )
    (voc / "Annotations" / f"{name}.xml").write_text(xml)


def _write_split(root: Path, year: str, image_set: str, names: list[str]) -> None:
    main_dir = root / "VOCdevkit" / f"VOC{year}" / "ImageSets" / "Main"
    main_dir.mkdir(parents=True, exist_ok=True)
    (main_dir / f"{image_set}.txt").write_text("".join(f"{n}\n" for n in names))


@pytest.fixture
def voc_root(tmp_path) -> Path:
    """VOC2007 trainval (2 images), VOC2007 test (1), VOC2012 trainval (1)."""
    _write_image(tmp_path, "2007", "000005", [("chair", 3, 4, 20, 25, False)])  # one object
    _write_image(
        tmp_path,
        "2007",
        "000007",
        [("car", 1, 1, 40, 30, False), ("person", 10, 5, 14, 12, True), ("dog", 5, 5, 9, 9, 0)],
    )
    _write_image(tmp_path, "2007", "000001", [("tvmonitor", 2, 2, 12, 12, True)], size=(60, 20))
    _write_image(tmp_path, "2012", "2008_000002", [("bird", 2.0, 3.0, 30.0, 28.0, None)])
    _write_split(tmp_path, "2007", "trainval", ["000005", "000007"])
    _write_split(tmp_path, "2007", "test", ["000001"])
    _write_split(tmp_path, "2012", "trainval", ["2008_000002"])
    return tmp_path


def test_reader_parses_boxes_labels_difficult_and_split_order(voc_root):
    data = VocTask(backbone_weights="none").datasets(str(voc_root), download=False)
    assert data.pool_size == 3 and len(data.pool_train) == 3 and len(data.test) == 1

    image, target = data.pool_eval[1]  # VOC2007 000007, 40x30 -> 300x300
    assert image.shape == (3, 300, 300) and image.dtype == torch.uint8
    sx, sy = 300 / 40, 300 / 30
    # 1-based inclusive (xmin, ymin, xmax, ymax) -> continuous (xmin - 1, ymin - 1, xmax, ymax)
    expected = torch.tensor([[0, 0, 40, 30], [9, 4, 14, 12], [4, 4, 9, 9]]) * torch.tensor(
        [sx, sy, sx, sy]
    )
    torch.testing.assert_close(target["boxes"], expected.float())
    names = [VOC_CLASSES[i - 1] for i in target["labels"].tolist()]
    assert names == ["car", "person", "dog"]
    assert target["difficult"].tolist() == [False, True, False]

    _, first = data.pool_eval[0]  # one object: torchvision's parser still gives a list
    assert target_names(first) == ["chair"] and first["difficult"].tolist() == [False]
    _, last = data.pool_eval[2]  # VOC2012 comes after VOC2007; no <difficult> tag -> False
    assert target_names(last) == ["bird"] and last["difficult"].tolist() == [False]
    _, test = data.test[0]
    assert target_names(test) == ["tvmonitor"] and test["difficult"].tolist() == [True]
    torch.testing.assert_close(test["boxes"], torch.tensor([[1 * 5.0, 1 * 15.0, 60.0, 180.0]]))


def target_names(target) -> list[str]:
    return [VOC_CLASSES[i - 1] for i in target["labels"].tolist()]


def test_training_augmentation_keeps_boxes_labels_and_flags_together(voc_root):
    task = VocTask(backbone_weights="none")
    data = task.datasets(str(voc_root), download=False)
    torch.manual_seed(0)
    for _ in range(20):  # random photometric / expand / IoU crop / flip draws
        image, target = data.pool_train[1]
        n = len(target["labels"])
        assert image.shape == (3, 300, 300) and image.dtype == torch.uint8
        assert target["boxes"].shape == (n, 4) and target["difficult"].shape == (n,)
        assert n >= 1  # the IoU crop keeps at least one box centre
        boxes = target["boxes"]
        assert (boxes[:, 2:] > boxes[:, :2]).all() and boxes.min() >= 0 and boxes.max() <= 300
        for label, difficult in zip(target["labels"], target["difficult"], strict=True):
            assert bool(difficult) == (VOC_CLASSES[label - 1] == "person")  # flags follow
    batch = task.collate([data.pool_train[0], data.pool_train[1], data.pool_eval[2]])
    assert batch.images.shape == (3, 3, 300, 300) and batch.labels.shape[0] == 3


def test_missing_tree_names_the_expected_layout(tmp_path):
    with pytest.raises(DatasetMissingError) as info:
        VocTask().datasets(str(tmp_path), download=False)
    msg = str(info.value)
    assert "\n" not in msg and "--download" in msg
    assert str(tmp_path / "VOCdevkit" / "VOC2007" / "Annotations") in msg
    assert "VOC2012" in msg and "ImageSets/Main/trainval.txt" in msg


def test_missing_voc_on_the_command_line_is_one_line_exit_2(mlflow_uri, tmp_path, capsys):
    args = ["run", "--tasks", "voc", "--device", "cpu", "--no-progress"]
    code = main([*args, "--data-root", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(tmp_path / "none" / "VOCdevkit" / "VOC2007") in err and "--download" in err
    assert Tracker().runs("paper") == []


def test_a_voc_job_runs_and_logs_its_backbone_source(voc_root, mlflow_uri, monkeypatch, tmp_path):
    """One cycle of SSD300 + learning loss on the written tree; MLflow says "scratch"."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))  # no VGG weights
    job = Job(
        benchmark="test",
        experiment="test",
        task=TaskConfig(
            name="voc",
            al=ALConfig(initial=2, budget=1, cycles=1, subset=0),
            train=TrainConfig(epochs=1, batch_size=2, lr=1e-3, lr_milestones=(), eval_batch_size=2),
        ),
        strategy="learn_loss",
        data_root=str(voc_root),
        tracking_uri=mlflow_uri,
    )
    result = run_job(job)
    assert result.status == "FINISHED" and 0.0 <= result.metric <= 1.0
    tracker = Tracker(mlflow_uri)
    (run,) = tracker.runs("test")
    assert run.data.params["task_info.backbone"] == "scratch"
    assert len(tracker.metric_history(run.info.run_id, "eval/map")) == 1
    assert len(tracker.metric_history(run.info.run_id, "eval/rank_acc/predicted_loss")) == 1


def test_pool_images_reach_the_generative_model_at_its_documented_size(voc_root):
    """The loop's own pool batches (eval, no augmentation) give VAAL (B, 3, 64, 64) pixels in
    [0, 1]: the 300x300 detector input shrunk to ``generative_size``; its VAE trains on them."""
    task = VocTask(backbone_weights="none")
    data = task.datasets(str(voc_root), download=False)
    cfg = TrainConfig(eval_batch_size=2, data_path="loader")
    batches = Batches(task, data, cfg, torch.device("cpu"))  # what the scan reads
    strategy = VAALStrategy(width=2, epochs=1, batch_size=2)
    idx = np.arange(data.pool_size)
    images = torch.cat(
        [strategy.collect_inputs(batch, task)["image"] for batch in batches.eval("pool", idx)]
    )
    assert task.generative_size == 64 and images.shape == (3, 3, 64, 64)
    assert images.min() >= 0 and images.max() <= 1
    x = data.pool_eval[1][0][None].float() / 255  # (1, 3, 300, 300)
    expected = F.interpolate(x, size=(64, 64), mode="bilinear", antialias=True)
    torch.testing.assert_close(images[1:2], expected)
    scan = Scan(idx[1:], {"image": images[1:]}, idx[:1], {"image": images[:1]})
    assert strategy.select(scan, 1, np.random.default_rng(0)).tolist()[0] in (1, 2)
