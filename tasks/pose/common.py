"""What both pose tasks share: the batch layout, the step, the entropy and the metric (§4.3).

A pose model returns ``(heatmaps per stack, taps, embedding)`` (see ``hourglass``). The step
computes the per-sample loss over every stack (intermediate supervision) and reports the last
stack's heatmaps as the output: the entropy baseline and PCKh read those.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from PIL import Image
from torch import Tensor, nn

from albench.contracts import HEATMAPS, IMAGES, Metric, StepOutput, Task
from albench.tasks.images import resize_square
from albench.tasks.pose.data import make_sample
from albench.tasks.pose.geometry import Augmentation
from albench.tasks.pose.heatmaps import heatmap_entropy, heatmap_loss
from albench.tasks.pose.pckh import PCKh, pckh_per_sample

__all__ = ["PoseTask"]


class PoseTask(Task):
    """Base for single-person pose estimation; batches are dicts (see ``data``)."""

    metric = "pckh"
    metric_label = "PCKh@0.5"
    equivalence_margin = 0.01  # one point of PCKh, the resolution MPII results are quoted at
    provides = Task.provides | {HEATMAPS, IMAGES}  # heatmaps: the last stack's (B, J, H, W)
    num_joints: ClassVar[int] = 16  # MPII's joints (the stickmen twin draws the same 16)
    input_res: ClassVar[int] = 256  # crop side in pixels (Newell et al.)
    channels: ClassVar[int] = 3

    def step(self, model: nn.Module, batch: Any, train: bool) -> StepOutput:
        heatmaps, taps, embedding = model(batch["image"])
        loss = heatmap_loss(heatmaps, batch["target"], batch["target_weight"])  # (B,)
        return StepOutput(output=heatmaps[-1], loss=loss, taps=list(taps), embedding=embedding)

    def uncertainty(self, out: StepOutput) -> Tensor:
        return heatmap_entropy(out.output)

    def outcome(self, out: StepOutput, batch: Any) -> dict[str, Tensor]:
        """The person's visible joints and the share of them the model places within half
        the head size (the sample's PCKh@0.5 over all its visible joints; NaN with none)."""
        return pckh_per_sample(out.output, batch)

    def new_metric(self) -> Metric:
        return PCKh()

    def generative_images(self, batch: Any) -> Tensor:
        x = batch["image"].float()  # (B, C, R, R) crops in [0, 1] (colour gain only in training)
        return resize_square(x, self.generative_size).clamp(0.0, 1.0)  # (B, C, S, S)

    def example_batch(self, batch_size: int) -> Any:
        """Noise images with random people, built by the real sample pipeline."""
        rng = np.random.default_rng(0)
        r = self.input_res
        items = []
        for _ in range(batch_size):
            pixels = rng.integers(0, 256, (r, r, self.channels), dtype=np.uint8)
            image = Image.fromarray(pixels[:, :, 0] if self.channels == 1 else pixels)
            joints = rng.uniform(0.1 * r, 0.9 * r, (self.num_joints, 2))
            visible = rng.random(self.num_joints) < 0.8
            center = np.array([(r - 1) / 2, (r - 1) / 2])
            head = float(rng.uniform(0.05, 0.15) * r)
            items.append(make_sample(image, joints, visible, center, r, head, r, Augmentation()))
        return self.collate(items)
