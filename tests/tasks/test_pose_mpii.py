"""The MPII reader on small files in pytorch-pose's layout, written here; the missing-data error."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io
import torch
import torch.nn.functional as F
from PIL import Image

from albench.cli import main
from albench.config import TrainConfig
from albench.contracts import Scan
from albench.errors import DatasetMissingError
from albench.strategies.vaal import TAVAALStrategy
from albench.tasks.pose import MpiiTask
from albench.tasks.pose.geometry import apply_affine
from albench.tasks.pose.heatmaps import decode_heatmaps
from albench.tasks.pose.mpii import find_mpii, read_mpii
from albench.training import Batches

R_WRIST = 10


def _record(i: int, valid: bool, rng: np.random.Generator) -> dict:
    """One person in a 320 x 240 image, 1-based MATLAB pixels like mpii_annotations.json."""
    joints = np.c_[rng.uniform([100, 70], [220, 190], (16, 2)).round(), np.ones(16)]  # in crop
    joints[R_WRIST, :2] = [120 + i, 100]  # the bright dot of image i (1-based)
    joints[3] = [0, 0, 0]  # l hip missing: not annotated
    joints[4, 2] = 0  # l knee occluded but annotated: still has ground truth
    return {
        "dataset": "MPI",
        "isValidation": float(valid),
        "img_paths": f"{i:09d}.jpg",
        "img_width": 320.0,
        "img_height": 240.0,
        "objpos": [160.0, 120.0],
        "joint_self": joints.tolist(),
        "scale_provided": 0.6,  # person 120 px tall: crop side 200 x 1.25 x 0.6 = 150 px
        "annolist_index": float(i + 1),
        "people_index": 1.0,
        "numOtherPeople": 0.0,
    }


def _write_tree(root, head_file: str = "detections"):
    """8 poses, 3 of them validation; head boxes in the chosen .mat ("none": no head boxes)."""
    folder = root / "mpii"
    (folder / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    records = [_record(i, valid=i in (2, 5, 7), rng=rng) for i in range(8)]
    (folder / "mpii_annotations.json").write_text(json.dumps(records))
    for r in records:
        pixels = np.zeros((240, 320, 3), dtype=np.uint8)
        x, y = (int(v) - 1 for v in r["joint_self"][R_WRIST][:2])  # 0-based pixel
        pixels[y - 2 : y + 3, x - 2 : x + 3] = 255
        Image.fromarray(pixels).save(folder / "images" / r["img_paths"], quality=95)
    boxes = np.array([[10.0 + i, 20.0, 40.0 + i, 60.0 + i] for i in range(len(records))])
    valid = [i for i, r in enumerate(records) if r["isValidation"]]
    if head_file == "detections":
        joints = np.array([records[i]["joint_self"] for i in valid])[:, :, :2]  # (V, 16, 2)
        scipy.io.savemat(
            folder / "detections_our_format.mat",
            {
                "headboxes_src": boxes[valid].reshape(-1, 2, 2).transpose(1, 2, 0),  # (2, 2, V)
                "pos_gt_src": joints.transpose(1, 2, 0),  # (16, 2, V), 1-based
            },
        )
    elif head_file == "official":
        fields = [("x1", "O"), ("y1", "O"), ("x2", "O"), ("y2", "O")]
        annolist = np.zeros((1, len(records)), dtype=[("annorect", "O")])
        for i, b in enumerate(boxes):
            rect = np.zeros((1, 1), dtype=fields)
            rect[0, 0] = tuple(b)
            annolist[0, i] = (rect,)
        scipy.io.savemat(
            folder / "mpii_human_pose_v1_u12_1.mat", {"RELEASE": {"annolist": annolist}}
        )
    return records, boxes


def test_reader_parses_split_joints_visibility_crop_and_head_boxes(tmp_path):
    records, boxes = _write_tree(tmp_path)
    ann, paths, valid = read_mpii(find_mpii(tmp_path))
    assert valid.tolist() == [r["isValidation"] == 1 for r in records]
    assert paths[0] == "000000000.jpg"
    first = np.array(records[0]["joint_self"])
    assert np.allclose(ann.joints[0, 0], first[0, :2] - 1)  # 1-based -> 0-based
    assert not ann.visible[0, 3] and ann.visible[0, 4]  # missing vs occluded-but-annotated
    assert ann.visible[0].sum() == 15
    assert np.allclose(ann.center[0], [159.0, 119.0 + 15 * 0.6])  # Newell et al.: 15 x scale
    assert np.allclose(ann.box, 200 * 1.25 * 0.6)
    diag = np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    assert np.allclose(ann.head_size[valid], 0.6 * diag[valid])
    assert np.isnan(ann.head_size[~valid]).all()  # the detections file covers validation only


def test_task_serves_crops_whose_targets_map_back_to_the_image(tmp_path):
    records, _ = _write_tree(tmp_path)
    task = MpiiTask()
    data = task.datasets(str(tmp_path), download=False)
    assert task.run_info()["head_boxes"].endswith("detections_our_format.mat")
    assert (data.pool_size, len(data.test)) == (5, 3)
    sample = data.test[0]  # record 2, the first validation pose
    assert sample["image"].shape == (3, 256, 256) and sample["target"].shape == (16, 64, 64)
    assert sample["target_weight"][3] == 0 and sample["target_weight"][4] == 1
    wrist = np.array(records[2]["joint_self"][R_WRIST][:2]) - 1
    peak = decode_heatmaps(sample["target"][None])[0, R_WRIST]
    back = apply_affine(sample["inverse"].double(), peak.double()[None])[0]
    assert back.tolist() == pytest.approx(wrist.tolist(), abs=150 / 64)  # a heatmap pixel
    dot = (sample["image"][0] > 0.5).nonzero().float().mean(0).flip(0)  # (x, y) in the crop
    assert ((dot + 0.5) / 4 - 0.5).tolist() == pytest.approx(peak.tolist(), abs=0.5)
    torch.manual_seed(0)
    augmented = data.pool_train[0]
    assert augmented["image"].shape == (3, 256, 256)


def test_official_mat_gives_every_pose_a_head_box(tmp_path):
    records, boxes = _write_tree(tmp_path, head_file="official")
    ann, _, _ = read_mpii(find_mpii(tmp_path))
    diag = np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    assert np.allclose(ann.head_size, 0.6 * diag)


def test_detections_file_from_another_split_is_rejected(tmp_path):
    _write_tree(tmp_path)
    path = tmp_path / "mpii" / "detections_our_format.mat"
    mat = scipy.io.loadmat(path)
    mat["pos_gt_src"] = mat["pos_gt_src"][:, :, ::-1]  # same poses, another order
    scipy.io.savemat(path, {k: v for k, v in mat.items() if not k.startswith("__")})
    with pytest.raises(DatasetMissingError, match="does not match the validation poses"):
        read_mpii(find_mpii(tmp_path))


def test_missing_tree_and_missing_head_boxes_name_the_files(tmp_path):
    with pytest.raises(DatasetMissingError) as err:
        find_mpii(tmp_path)
    message = str(err.value)
    assert "\n" not in message
    expected = ["mpii_annotations.json", "images/", "detections_our_format.mat"]
    expected += ["mpii_human_pose_v1_u12_1.mat", "human-pose.mpi-inf.mpg.de", "--data-root"]
    assert all(part in message for part in expected), message
    _write_tree(tmp_path / "other", head_file="none")
    with pytest.raises(DatasetMissingError, match="head boxes missing"):
        find_mpii(tmp_path / "other")


def test_cli_missing_mpii_is_one_line_and_exit_code_2(tmp_path, mlflow_uri, capsys):
    code = main(
        ["run", "--benchmark", "paper", "--tasks", "mpii", "--device", "cpu",
         "--data-root", str(tmp_path / "nothing"), "--no-progress"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "mpii_annotations.json" in lines[0] and "Traceback" not in err


def test_pool_crops_reach_the_generative_model_at_its_documented_size(tmp_path):
    """The loop's own pool batches (eval, no augmentation) give VAAL (B, 3, 64, 64) pixels in
    [0, 1]: the 256x256 crops shrunk to ``generative_size``; TA-VAAL's VAE trains on them."""
    _write_tree(tmp_path)
    task = MpiiTask()
    data = task.datasets(str(tmp_path), download=False)
    batches = Batches(task, data, TrainConfig(eval_batch_size=2), torch.device("cpu"))
    strategy = TAVAALStrategy(width=2, epochs=1, batch_size=2)
    idx = np.arange(data.pool_size)
    images = torch.cat(
        [strategy.collect_inputs(batch, task)["image"] for batch in batches.eval("pool", idx)]
    )
    assert task.generative_size == 64 and images.shape == (5, 3, 64, 64)
    assert images.min() >= 0 and images.max() <= 1
    crop = data.pool_eval[3]["image"][None]  # (1, 3, 256, 256) in [0, 1]
    expected = F.interpolate(crop, size=(64, 64), mode="bilinear", antialias=True)
    torch.testing.assert_close(images[3:4], expected)
    loss = torch.linspace(0, 1, 5)  # stands in for the ranker's output
    scan = Scan(idx[2:], {"image": images[2:], "predicted_loss": loss[2:]}, idx[:2])
    scan.labeled_stats = {"image": images[:2], "predicted_loss": loss[:2]}
    assert strategy.select(scan, 2, np.random.default_rng(0)).tolist()[0] in (2, 3, 4)
