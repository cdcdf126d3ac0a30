"""Human pose estimation tasks: ``mpii`` (2-stack hourglass, paper §4.3) and ``stickmen``."""

from albench.tasks.pose.common import PoseTask
from albench.tasks.pose.hourglass import StackedHourglass
from albench.tasks.pose.mpii import MpiiTask
from albench.tasks.pose.pckh import PCKh
from albench.tasks.pose.stickmen import StickmenTask

__all__ = ["MpiiTask", "PCKh", "PoseTask", "StackedHourglass", "StickmenTask"]
