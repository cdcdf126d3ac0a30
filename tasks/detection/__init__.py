"""Object detection tasks: ``voc`` (SSD300 on PASCAL VOC07+12, paper §4.2) and its embedded
twin ``shapes`` (generated rectangles, discs and triangles, small SSD); both share the SSD
wrapper, the per-image loss, the detection entropy and the VOC07 mAP."""

from albench.tasks.detection.common import DetectionBatch, DetectionTask
from albench.tasks.detection.shapes import ShapesTask
from albench.tasks.detection.voc import VocTask
from albench.tasks.detection.voc_eval import VOC07MeanAP, voc07_map

__all__ = ["DetectionBatch", "DetectionTask", "ShapesTask", "VOC07MeanAP", "VocTask", "voc07_map"]
