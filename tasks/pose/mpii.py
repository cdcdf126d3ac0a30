"""MPII Human Pose with a 2-stack hourglass, the paper's pose experiment (§4.3).

Split (§4.3, "the same splits used in [36]"): Newell et al.'s single-person split of the MPII
training images, 22,246 training poses (the pool, file order = stable indices) and 2,958
validation poses (the test split). MPII cannot be downloaded automatically (its licence asks
every user to fetch it from the MPII site); albench reads the layout of bearpaw/pytorch-pose,
the code the paper used (footnote 3), from ``<data-root>/mpii`` (or ``<data-root>`` itself):

- ``mpii_annotations.json``: one record per person with ``img_paths``, ``objpos`` (centre),
  ``scale_provided`` (person height / 200 px), ``joint_self`` (16 x [x, y, visible], 1-based
  MATLAB pixels, [0, 0, 0] for a missing joint), ``isValidation``, and ``annolist_index`` /
  ``people_index`` (1-based indices into the official annotation);
- ``images/``: the MPII images (``mpii_human_pose_v1.tar.gz``);
- head boxes for PCKh, from either ``detections_our_format.mat`` (pytorch-pose's
  ``evaluation/data``; ``headboxes_src`` (2, 2, N) for the N validation poses in file order,
  checked against its ``pos_gt_src``) or the official ``mpii_human_pose_v1_u12_1.mat``
  (``RELEASE.annolist(a).annorect(p).x1, y1, x2, y2``, which also gives the training poses
  theirs).

A joint counts ("visible") when it has a location, i.e. is not [0, 0]: the official protocol's
``1 - jnt_missing``; occluded but annotated joints count in the loss and in PCKh.

Crop (Newell et al.): centre ``objpos`` moved down by 15 x scale pixels, box side
200 x 1.25 x scale pixels, resampled to 256 x 256 with 64 x 64 heatmaps; training adds the
augmentation of ``geometry``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from albench.contracts import TaskData
from albench.errors import DatasetMissingError
from albench.registry import builtin
from albench.tasks.pose.common import PoseTask
from albench.tasks.pose.data import ImageFiles, PoseAnnotations, PoseDataset
from albench.tasks.pose.hourglass import StackedHourglass
from albench.tasks.pose.pckh import head_size

__all__ = ["MpiiFiles", "MpiiTask", "find_mpii", "read_mpii"]

ANNOTATIONS = "mpii_annotations.json"
IMAGES = "images"
DETECTIONS_MAT = "detections_our_format.mat"
OFFICIAL_MAT = "mpii_human_pose_v1_u12_1.mat"
PERSON_PX = 200.0  # MPII: scale_provided = person height / 200 pixels
BOX_MARGIN = 1.25  # Newell et al.: crop side = 1.25 x 200 x scale
CENTER_SHIFT = 15.0  # Newell et al.: centre moved down by 15 x scale pixels

WHERE = (
    f"expected {ANNOTATIONS} (Newell et al.'s split; bearpaw/pytorch-pose data/mpii/), "
    f"{IMAGES}/ (mpii_human_pose_v1.tar.gz) and head boxes in {DETECTIONS_MAT} "
    f"(pytorch-pose evaluation/data/) or {OFFICIAL_MAT} (mpii_human_pose_v1_u12_2.zip); MPII "
    "cannot be downloaded automatically (licence): get the images and the .mat from "
    "http://human-pose.mpi-inf.mpg.de, put them in DIR/mpii and pass --data-root DIR"
)


@dataclass(frozen=True)
class MpiiFiles:
    """Where the MPII files are; ``head_boxes`` is one of the two .mat files."""

    annotations: Path
    images: Path
    head_boxes: Path


def find_mpii(root: str | Path) -> MpiiFiles:
    """The MPII files under ``root``/mpii or ``root``; DatasetMissingError naming them if not."""
    root = Path(root).resolve()
    folder = next((d for d in (root / "mpii", root) if (d / ANNOTATIONS).is_file()), None)
    if folder is None:
        raise DatasetMissingError(f"MPII not found: no {root / 'mpii' / ANNOTATIONS}; {WHERE}")
    if not (folder / IMAGES).is_dir():
        raise DatasetMissingError(f"MPII images missing: no {folder / IMAGES}/; {WHERE}")
    mats = [folder / name for name in (DETECTIONS_MAT, OFFICIAL_MAT) if (folder / name).is_file()]
    if not mats:
        raise DatasetMissingError(
            f"MPII head boxes missing: neither {folder / DETECTIONS_MAT} nor "
            f"{folder / OFFICIAL_MAT}; {WHERE}"
        )
    return MpiiFiles(folder / ANNOTATIONS, folder / IMAGES, mats[0])


def _parse_records(records: list[dict]) -> dict[str, np.ndarray]:
    """JSON records -> arrays in 0-based pixel-centre coordinates (MATLAB's are 1-based)."""
    raw = np.array([r["joint_self"] for r in records], dtype=np.float64)  # (N, 16, 3)
    return {
        "paths": np.array([r["img_paths"] for r in records]),
        "joints": raw[:, :, :2] - 1.0,
        "visible": (raw[:, :, 0] != 0) | (raw[:, :, 1] != 0),  # [0, 0] = no annotation
        "center": np.array([r["objpos"] for r in records], dtype=np.float64) - 1.0,
        "scale": np.array([r["scale_provided"] for r in records], dtype=np.float64),
        "valid": np.array([bool(r["isValidation"]) for r in records]),
        "annolist": np.array([int(r.get("annolist_index", 0)) for r in records]),
        "people": np.array([int(r.get("people_index", 0)) for r in records]),
    }


def _head_boxes_detections(path: Path, fields: dict[str, np.ndarray]) -> np.ndarray:
    """(N, 4) head boxes; NaN for training poses: the file covers the validation poses."""
    from scipy.io import loadmat

    mat = loadmat(str(path))
    boxes = np.asarray(mat["headboxes_src"], dtype=np.float64)  # (2, 2, V): corner, xy, pose
    valid = np.flatnonzero(fields["valid"])
    if boxes.shape[2] != len(valid):
        raise DatasetMissingError(
            f"{path} has head boxes for {boxes.shape[2]} poses but {ANNOTATIONS} has "
            f"{len(valid)} validation poses; use both files from bearpaw/pytorch-pose"
        )
    if "pos_gt_src" in mat:  # same poses in the same order?
        gt = np.transpose(np.asarray(mat["pos_gt_src"], dtype=np.float64), (2, 0, 1)) - 1.0
        vis = fields["visible"][valid]
        err = np.abs(gt - fields["joints"][valid])[vis]
        if err.size and float(err.max()) > 1.0:
            raise DatasetMissingError(
                f"{path} does not match the validation poses of {ANNOTATIONS} (joint "
                f"positions differ by up to {float(err.max()):.0f} px); use both files from "
                "bearpaw/pytorch-pose"
            )
    out = np.full((len(fields["valid"]), 4), np.nan)
    out[valid] = np.concatenate([boxes[0].T, boxes[1].T], axis=1)  # (V, x1 y1 x2 y2)
    return out


def _as_list(value) -> list:
    """A squeezed MATLAB struct array as a list (one element squeezes to the element)."""
    if isinstance(value, np.ndarray):
        return list(value.reshape(-1))
    return [value]


def _number(value) -> float:
    """A MATLAB scalar as a float; NaN for a missing or empty field."""
    array = np.asarray(value if value is not None else [], dtype=np.float64).reshape(-1)
    return float(array[0]) if array.size == 1 else float("nan")


def _head_boxes_official(path: Path, fields: dict[str, np.ndarray]) -> np.ndarray:
    """(N, 4) head boxes from RELEASE.annolist(annolist_index).annorect(people_index)."""
    from scipy.io import loadmat

    release = loadmat(str(path), squeeze_me=True, struct_as_record=False)["RELEASE"]
    annolist = _as_list(release.annolist)
    out = np.full((len(fields["valid"]), 4), np.nan)
    for i, (a, p) in enumerate(zip(fields["annolist"], fields["people"], strict=True)):
        if not 1 <= a <= len(annolist):
            continue
        rects = _as_list(annolist[a - 1].annorect)
        if not 1 <= p <= len(rects):
            continue
        out[i] = [_number(getattr(rects[p - 1], k, None)) for k in ("x1", "y1", "x2", "y2")]
    missing = np.flatnonzero(fields["valid"] & np.isnan(out).any(axis=1))
    if len(missing):
        raise DatasetMissingError(
            f"{path} has no head box for {len(missing)} validation poses of {ANNOTATIONS} "
            f"(first: record {missing[0]}); use the official mpii_human_pose_v1_u12_1.mat"
        )
    return out


def read_mpii(files: MpiiFiles) -> tuple[PoseAnnotations, np.ndarray, np.ndarray]:
    """All poses of the annotation file with head sizes, their image paths and the
    validation flag."""
    with open(files.annotations) as f:
        fields = _parse_records(json.load(f))
    if files.head_boxes.name == DETECTIONS_MAT:
        boxes = _head_boxes_detections(files.head_boxes, fields)
    else:
        boxes = _head_boxes_official(files.head_boxes, fields)
    scale = fields["scale"]
    center = fields["center"].copy()
    center[:, 1] += CENTER_SHIFT * scale  # Newell et al.: avoid cutting off the feet
    ann = PoseAnnotations(
        joints=fields["joints"],
        visible=fields["visible"],
        center=center,
        box=PERSON_PX * BOX_MARGIN * scale,
        head_size=head_size(boxes),
    )
    return ann, fields["paths"], fields["valid"]


@builtin("mpii", rank=2)
class MpiiTask(PoseTask):
    """MPII Human Pose (Newell et al. split) with a 2-stack hourglass (paper §4.3); PCKh@0.5."""

    tap_channels = (256, 256)  # §4.3: the last (64, 64, 256) feature map of each stack
    sizes = (22_246, 2_958)  # §4.3: training poses (pool) / validation poses (test)
    throughput = 150.0  # training images/s on one GPU, 2-stack hourglass at 256x256 (estimate)
    default_schedule = {  # §4.3, as benchmarks/paper.toml
        "al": {"subset": 5000},
        "train": {
            "epochs": 125,
            "batch_size": 6,
            "optimizer": "rmsprop",
            "lr": 2.5e-4,
            "momentum": 0.0,
            "weight_decay": 0.0,
            "lr_milestones": [100],
            "stop_grad_epoch": 75,
            "eval_batch_size": 64,
        },
        "strategies": {"learn_loss": {"weight": 1e-4}},  # lambda, §4.3
    }
    paper_results = {
        "metric": {
            "learn_loss": (0.8046, "§4.3, Fig. 7"),
            "coreset": (0.7985, "§4.3, Fig. 7"),
            "entropy": (0.7899, "§4.3, Fig. 7"),
            "random": (0.7862, "§4.3, Fig. 7"),
        },
        "rank_acc/predicted_loss": {"learn_loss": (0.75, "§4.3, Fig. 5 (about)")},
        "pearson/predicted_loss": {"learn_loss": (0.68, "§4.3, Fig. 8 (top)")},
        "pearson/entropy": {"entropy": (0.45, "§4.3, Fig. 8 (bottom)")},
    }

    def __init__(self) -> None:
        self.files: MpiiFiles | None = None  # set by datasets(), reported by run_info()

    def datasets(self, root: str, download: bool) -> TaskData:
        files = self.files = find_mpii(root)
        ann, paths, valid = read_mpii(files)

        train, test = np.flatnonzero(~valid), np.flatnonzero(valid)

        def make(idx: np.ndarray, augment: bool) -> PoseDataset:
            images = ImageFiles(files.images, paths[idx])
            return PoseDataset(ann.subset(idx), images, self.input_res, augment)

        return TaskData(
            pool_train=make(train, True), pool_eval=make(train, False), test=make(test, False)
        )

    def build_model(self) -> nn.Module:
        return StackedHourglass(num_joints=self.num_joints, num_stacks=2, features=256, depth=4)

    def run_info(self) -> dict[str, str]:
        """Which files were read: the annotations and the head-box source of PCKh."""
        if self.files is None:
            return {}
        return {
            "annotations": str(self.files.annotations),
            "head_boxes": str(self.files.head_boxes),
        }
