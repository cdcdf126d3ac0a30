"""The task contract, re-exported from :mod:`albench.contracts` (where the core owns it)."""

from albench.contracts import (
    CAPABILITIES,
    CLASS_LOGITS,
    EMBEDDING,
    ENTROPY,
    LOSS,
    TAPS,
    DeviceData,
    EvalResult,
    Metric,
    StepOutput,
    Task,
    TaskData,
    to_device,
)

__all__ = [
    "CAPABILITIES",
    "CLASS_LOGITS",
    "DeviceData",
    "EMBEDDING",
    "ENTROPY",
    "EvalResult",
    "LOSS",
    "Metric",
    "StepOutput",
    "TAPS",
    "Task",
    "TaskData",
    "to_device",
]
