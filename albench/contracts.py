"""The contracts between the core and its plug-ins: tasks, strategies and what they exchange.

The core (``albench/``) owns these classes; the built-in tasks (``tasks/``, installed as
``albench.tasks``) and strategies (``strategies/``, ``albench.strategies``) implement them,
and so do third-party plug-ins. Dependencies point one way: plug-ins import ``albench``, the
core reaches a plug-in only through :mod:`albench.registry`.

A **task** is everything the active-learning loop must not know about: what a batch looks
like, how the target model is built, its per-sample loss, where a loss-prediction module taps
the network (Yoo & Kweon 2019, Fig. 2), the embedding, the uncertainty and the metric. It
returns a :class:`StepOutput` per batch. A **strategy** adds loss terms to training, collects
per-sample statistics during scans and picks pool indices from a :class:`Scan`.

Both sides *declare* what they are (class attributes, read before any run, never discovered by
trial and error):

- a task declares the capabilities it ``provides`` (see :data:`CAPABILITIES`), its metric's
  key, display name and range, its planning throughput and a default schedule for benchmarks
  that have no table for it;
- a strategy declares the capabilities it ``requires``, its display name, whether it is a
  baseline or an oracle, and the statistics it ``scores``.

``albench run`` and ``albench plan`` refuse a (task, strategy) pair whose requirements the task
does not meet, before any run exists; ``albench list`` prints the support matrix.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from albench.registry import missing_capabilities

if TYPE_CHECKING:
    from albench.config import ALConfig, TrainConfig

__all__ = [
    "AGGREGATIONS",
    "CAPABILITIES",
    "CLASS_LOGITS",
    "CycleWork",
    "DETECTIONS",
    "DeviceData",
    "EMBEDDING",
    "ENTROPY",
    "EvalResult",
    "Expectation",
    "HEATMAPS",
    "IMAGES",
    "LINEAR_HEAD",
    "LOSS",
    "LinearHead",
    "MC_DROPOUT",
    "Metric",
    "Scan",
    "SelectionCost",
    "StepOutput",
    "Strategy",
    "TAPS",
    "Task",
    "TaskData",
    "aggregate_detections",
    "missing_capabilities",
    "to_device",
    "top_k",
]

# ------------------------------------------------------------------------------ capabilities

LOSS = "loss"  # StepOutput.loss: the (B,) per-sample target loss, not reduced
TAPS = "taps"  # StepOutput.taps, with their channel counts in Task.tap_channels
EMBEDDING = "embedding"  # StepOutput.embedding: (B, D) features (core-set)
ENTROPY = "entropy"  # Task.uncertainty: the paper's entropy baseline, (B,)
CLASS_LOGITS = "class_logits"  # StepOutput.output is (B, C) logits of one class per sample
LINEAR_HEAD = "linear_head"  # StepOutput.output = one linear layer of StepOutput.embedding
MC_DROPOUT = "mc_dropout"  # StepOutput.head: dropout p > 0 right before the linear head
DETECTIONS = "detections"  # StepOutput.output.detections: per image, final detections + probs
HEATMAPS = "heatmaps"  # StepOutput.output is (B, J, H, W) joint heatmaps, target peak 1
IMAGES = "images"  # Task.generative_images: (B, C, S, S) pixels in [0, 1], S = generative_size

CAPABILITIES: dict[str, str] = {
    LOSS: "per-sample target loss (StepOutput.loss, shape (B,))",
    TAPS: "feature maps for a loss-prediction module (StepOutput.taps, Task.tap_channels)",
    EMBEDDING: "a (B, D) feature per sample (StepOutput.embedding)",
    ENTROPY: "an uncertainty score of the prediction, (B,), logged under this name "
    "(Task.uncertainty)",
    CLASS_LOGITS: "StepOutput.output holds (B, C) class logits",
    LINEAR_HEAD: "StepOutput.output is one linear layer of StepOutput.embedding (in eval mode): "
    "the embedding is the last layer's input (gradient embeddings)",
    MC_DROPOUT: "StepOutput.head is a LinearHead with dropout p > 0 before it: Monte-Carlo "
    "dropout passes of the head alone (classification: task parameter head_dropout > 0)",
    DETECTIONS: "StepOutput.output.detections: per image its final detections after NMS, each "
    "with its anchor's softmax over the classes (Detections.probs, (n, C))",
    HEATMAPS: "StepOutput.output holds (B, J, H, W) joint heatmaps (Gaussian targets, peak 1)",
    IMAGES: "Task.generative_images(batch): the batch's images as (B, C, S, S) pixels in [0, 1], "
    "unnormalised, resized to S = Task.generative_size (a multiple of 16), for generative "
    "models of the input (VAAL)",
}
"""The built-in capability names and what each promises. The vocabulary is open: a plug-in
strategy may require a capability that only plug-in tasks provide. A strategy's requirement
may list alternatives, ``"a|b"``: the task must provide one of them (a strategy defined per
task family, e.g. on class logits or on detections)."""

AGGREGATIONS = ("mean", "max", "sum")
"""How per-detection scores become an image's score (:func:`aggregate_detections`)."""


def aggregate_detections(values: Sequence[Tensor], how: str = "mean", empty: float = 0.0) -> Tensor:
    """(B,) per-image scores from per-detection scores: ``values[i]`` is the (n_i,) score of
    image i's final detections, ``how`` one of :data:`AGGREGATIONS` (Brust et al., VISAPP
    2019, compare sum, mean and max), ``empty`` the score of an image without detections.

    The rule shared by every detection uncertainty (the entropy baseline, least confidence,
    margin). Paper default (§4.2, entropy): the mean, and 0 without detections. What ``empty``
    means for selection: scores are "higher = more uncertain", so 0 (the least uncertain
    value of a score in [0, 1]) ranks such an image last (picked only when fewer than K
    candidates have a detection), a value at or above the score's maximum (1 for least
    confidence and margin) ranks it first ("nothing found" taken as the most uncertain).
    """
    if how not in AGGREGATIONS:
        raise ValueError(f"aggregation {how!r}: expected one of {', '.join(AGGREGATIONS)}")
    out = []
    for v in values:
        v = v.float().reshape(-1)  # (n_i,)
        if v.numel() == 0:
            out.append(v.new_full((), float(empty)))
        else:
            out.append(v.mean() if how == "mean" else v.max() if how == "max" else v.sum())
    if not out:
        return torch.zeros(0)
    return torch.stack(out)  # (B,)


# ------------------------------------------------------------------------------ task side


@dataclass(frozen=True)
class LinearHead:
    """A classifier's last layer: ``output = linear(dropout(embedding))``, the dropout with
    probability ``dropout`` and active in training only (:data:`MC_DROPOUT` when > 0).

    Monte-Carlo dropout strategies (BALD) run the head alone on the embedding with dropout
    masks of their own, T times: exactly MC dropout on this layer, at the cost of T small
    matrix products instead of T forward passes of the network.
    """

    linear: nn.Linear
    dropout: float = 0.0  # p of the dropout right before ``linear``; 0: none


@dataclass(frozen=True)
class StepOutput:
    """What a task returns for one batch."""

    output: Any  # task-specific predictions (logits, SSD head outputs, heatmaps)
    loss: Tensor  # (B,) per-sample target loss, NOT reduced
    taps: list[Tensor]  # feature maps read by the loss-prediction module, paper Fig. 2
    embedding: Tensor  # (B, D) features for core-set
    head: LinearHead | None = None  # the layer from embedding to output, if it is one (linear)


@dataclass(frozen=True)
class TaskData:
    """The pool twice (same items, same indices) and the test split.

    ``pool_train`` applies the training augmentation; ``pool_eval`` is the same pool without
    it, for the scans that score unlabeled items (docs/protocol.md).
    """

    pool_train: Dataset
    pool_eval: Dataset
    test: Dataset
    arrays: Any = None  # raw tensors a task can move to the device (see Task.device_data)
    # What is known of each pool item that no strategy reads, for the picks' diagnostics:
    # name -> (pool_size,) array. Keys the loop measures: "class" (true class), "copy_of"
    # (the item it is a copy of: equal values are copies), "honeypot" (bool: a wrong label);
    # any other name is a number per item whose mean over each cycle's picks is logged.
    facts: dict[str, np.ndarray] = field(default_factory=dict)
    test_facts: dict[str, np.ndarray] = field(default_factory=dict)  # the same, test split

    @property
    def pool_size(self) -> int:
        return len(self.pool_eval)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Expectation:
    """A known answer: ``strategy`` against ``baseline`` on ``quantity`` ("aubc" or "last")
    should end in one of ``verdicts`` (albench/verdicts.py: "better", "worse",
    "equivalent"), as ``source`` reports, for the reason ``why``."""

    strategy: str
    baseline: str
    verdicts: tuple[str, ...]
    source: str
    why: str = ""
    quantity: str = "aubc"


@dataclass(frozen=True)
class EvalResult:
    """One pass over the test split: the metric and per-sample values in test order."""

    metric: float
    loss: np.ndarray  # (N,) true per-sample target loss
    scores: dict[str, np.ndarray]  # scorer name -> (N,) score, e.g. entropy, predicted_loss
    outcome: dict[str, np.ndarray] = field(default_factory=dict)  # Task.outcome, (N,) each


class DeviceData(ABC):
    """A task's data held on the job's device: batches are index slices, augmentation is
    done there too (docs/speed.md). Iterating a loader again gives a new epoch (a new
    shuffle and new augmentation draws from its seeded generators)."""

    nbytes: int = 0

    @abstractmethod
    def train_batches(
        self, indices: np.ndarray, batch_size: int, seed: int, drop_last: bool
    ) -> Iterable[Any]:
        """Shuffled, augmented batches of pool items ``indices``; ``seed`` fixes both."""

    @abstractmethod
    def eval_batches(self, split: str, indices: np.ndarray, batch_size: int) -> Iterable[Any]:
        """Batches of ``split`` ("pool" or "test") items in the given order, no augmentation."""


class Metric(ABC):
    """Streaming metric: ``update`` per batch in eval mode, ``compute`` once at the end."""

    @abstractmethod
    def update(self, out: StepOutput, batch: Any) -> None: ...

    @abstractmethod
    def compute(self) -> float: ...


class Task(ABC):
    """A recognition task with its data, model, loss, uncertainty and metric.

    Subclass it, declare the class attributes below, implement the abstract methods, and
    register it (entry point ``albench.tasks`` or ``--tasks package.module:Class``).
    ``__init__`` takes the task's parameters (``[tasks.NAME.params]`` of a benchmark file) as
    keyword arguments with defaults; every default is part of the job's configuration hash.
    """

    name: ClassVar[str] = ""  # set by the registry
    # -- the metric, logged as eval/<metric> every cycle
    metric: ClassVar[str] = ""  # key, e.g. "accuracy" | "map" | "pckh"
    metric_label: ClassVar[str] = ""  # display name, e.g. "mAP@0.5"; default: the key
    metric_range: ClassVar[tuple[float, float]] = (0.0, 1.0)  # (low, high) it can take
    # the smallest difference of the metric that matters: two strategies whose paired
    # difference (AUBC or last cycle) is shown to lie within +-it are "equivalent"
    # (albench.verdicts); a benchmark file overrides it with [tasks.NAME] margin = ...
    equivalence_margin: ClassVar[float] = 0.01
    # -- what the task offers to strategies (see CAPABILITIES). The class declares all it can
    # provide; an instance may provide less, as its parameters decide (e.g. mc_dropout needs
    # head_dropout > 0): runs check each job's task instance before they start.
    provides: ClassVar[frozenset[str]] = frozenset({LOSS, TAPS, EMBEDDING, ENTROPY})
    tap_channels: ClassVar[tuple[int, ...]] = ()  # channels of each tap, for the loss module
    # -- planning and defaults
    embedded: ClassVar[bool] = False  # True: offline data generated or bundled (CPU runs)
    sizes: ClassVar[tuple[int, int] | None] = None  # (pool, test) for planning without data
    throughput: ClassVar[float] = 1000.0  # training images/s on one GPU (estimates only)
    cpu_throughput: ClassVar[float | None] = None  # the same on a 2-core CPU, if sensible
    inference_cost: ClassVar[float] = 1 / 3  # an inference pass, in training passes
    default_schedule: ClassVar[Mapping[str, Any] | None] = None
    """A benchmark table (``{"al": {...}, "train": {...}, "params": {...}}``) used when a
    benchmark file has no ``[tasks.NAME]`` table for this task; None: the task needs one."""
    # -- generative models of the input (IMAGES): the side S of the square images handed to
    # them; a multiple of 16 (VAAL's VAE halves it 4 times). Classification: the images'
    # own side where that is one (CIFAR-10: 32); detection and pose: resized to 64 (VOC,
    # MPII; their CPU twins 32).
    generative_size: ClassVar[int] = 64
    paper_results: ClassVar[Mapping[str, Mapping[str, tuple[float, str]]]] = {}
    """Published numbers to compare with: quantity ("metric", "rank_acc/<scorer>",
    "pearson/<scorer>") -> strategy -> (value, source)."""

    def expectations(self, al: ALConfig | None = None) -> tuple[Expectation, ...]:
        """What the literature expects of this task as configured and run on the schedule
        ``al`` (a scenario's known answers: e.g. a redundant pool, a low budget), checked by
        the report with the verdicts; none by default. Logged with every run of a task that
        has some, as the artifact ``expectations.json``."""
        return ()

    @abstractmethod
    def datasets(self, root: str, download: bool) -> TaskData:
        """Load (or generate) the pool and test split; raise DatasetMissingError if absent."""

    @abstractmethod
    def build_model(self) -> nn.Module:
        """A freshly initialised target model (the loop seeds torch before calling this)."""

    @abstractmethod
    def step(self, model: nn.Module, batch: Any, train: bool) -> StepOutput:
        """Forward one batch already on the model's device; ``loss`` is per sample."""

    @abstractmethod
    def new_metric(self) -> Metric:
        """A fresh accumulator for the task's metric over the test split."""

    @abstractmethod
    def example_batch(self, batch_size: int) -> Any:
        """A generated batch with the shapes of real data (contract tests, benchmarks)."""

    def uncertainty(self, out: StepOutput) -> Tensor:
        """(B,) the paper's entropy baseline for this task (higher = more uncertain).

        Only called when the task ``provides`` :data:`ENTROPY`; override it then."""
        raise NotImplementedError(f"task {self.name!r} declares no uncertainty score")

    def outcome(self, out: StepOutput, batch: Any) -> dict[str, Tensor]:
        """Per-sample truth and prediction of one test batch for the test-score CSV
        (``test_scores/cycle_NN.csv``): name -> (B,), each name starting with
        :data:`albench.schema.TRUTH_PREFIX` (what the sample is, e.g. its class) or
        :data:`albench.schema.PREDICTION_PREFIX` (what the model made of it). Default: none."""
        return {}

    def generative_images(self, batch: Any) -> Tensor:
        """(B, C, S, S) float pixels in [0, 1] of a batch already on the device, without the
        model's normalisation, resized to S = ``generative_size`` (what a generative model of
        the input, e.g. VAAL's VAE, reads). Only called when the task ``provides``
        :data:`IMAGES`; override it then."""
        raise NotImplementedError(f"task {self.name!r} declares no generative images")

    def run_info(self) -> dict[str, str]:
        """Facts the task resolved itself that its config does not show (e.g. whether the
        pretrained weights it looks for were found), called once after ``build_model`` and
        logged as MLflow params ``task_info.<key>``. Default: none."""
        return {}

    def configure_optimizer(
        self, params: list[nn.Parameter], cfg: TrainConfig
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler] | None:
        """An optimiser and per-epoch schedule of the task's own, rebuilt every cycle.

        Called once per cycle. Default None: the train config's optimiser and step schedule
        (:func:`albench.training.build_optimizer`)."""
        return None

    def device_data(
        self, data: TaskData, device: torch.device, max_bytes: int
    ) -> DeviceData | None:
        """The data resident on ``device`` if this task supports it and it fits in
        ``max_bytes``; None selects the DataLoader path (the default)."""
        return None

    def collate(self, items: list[Any]) -> Any:
        """How a list of dataset items becomes a batch (default: torch's default collate)."""
        return torch.utils.data.default_collate(items)

    def to_device(self, batch: Any, device: torch.device) -> Any:
        """Move a batch to ``device`` (tensors, and tensors inside lists/tuples/dicts)."""
        return to_device(batch, device)


def to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor in it (also inside lists, tuples, dicts) on ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


# ------------------------------------------------------------------------------ strategy side


@dataclass(frozen=True)
class CycleWork:
    """One cycle of a job as a plan sees it: what a strategy's selection is priced from."""

    labeled: int  # items the cycle's model was trained on
    candidates: int  # items its selection scores (S_M, or the whole unlabeled pool)
    budget: int  # items it picks
    epochs: int  # training epochs of one cycle
    test: int  # items of the test split
    generative_size: int  # the task's side for a generative model (Task.generative_size)


@dataclass(frozen=True)
class SelectionCost:
    """Work a strategy's ``select`` adds to one cycle, in the task model's image passes (what
    a plan prices with the task's throughput) and in images through a generative model's
    training step (a VAE and its discriminator at ``Task.generative_size``)."""

    train: float = 0.0  # task-model training image passes (e.g. a probe's training)
    infer: float = 0.0  # task-model inference image passes (e.g. per-sample gradients)
    generative: float = 0.0  # images through one generative training step (VAE + D)


@dataclass
class Scan:
    """What a scan of the candidates produced, in scan order.

    ``candidates[i]`` is the pool index of the i-th scanned item and ``stats[k][i]`` its
    statistic ``k``; ``labeled``/``labeled_stats`` likewise for the labeled set when the
    strategy declares ``scan_labeled``. Tensors stay on the job's device until ``select``.
    ``probe`` is set for a strategy that declares ``lookahead`` (an oracle): ``probe(group)``
    is the test metric that the next cycle reaches with the candidates ``group`` (pool
    indices) labeled besides the labeled set (that cycle's training, run exactly); the
    model is restored afterwards.
    """

    candidates: np.ndarray  # (M,) pool indices, scan order
    stats: dict[str, Tensor] = field(default_factory=dict)  # name -> (M, ...) in scan order
    labeled: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    labeled_stats: dict[str, Tensor] = field(default_factory=dict)
    probe: Callable[[np.ndarray], float] | None = None


def top_k(scores: Tensor, candidates: np.ndarray, budget: int) -> np.ndarray:
    """Pool indices of the ``budget`` highest scores; ties keep scan order.

    ``scores[i]`` belongs to ``candidates[i]``, so the result indexes the pool, not the scan.
    """
    s = scores.detach().float().cpu().numpy().reshape(-1)  # (M,)
    if len(s) != len(candidates):
        raise ValueError(f"{len(s)} scores for {len(candidates)} candidates")
    order = np.argsort(-s, kind="stable")[:budget]  # descending: highest scores first
    return candidates[order]


class Strategy(ABC):
    """An acquisition strategy; ``__init__`` only stores hyper-parameters (picklable).

    Hook order in one job: ``auxiliary`` once (the module is trained with the target model;
    the :class:`~albench.training.Learner` owns it and hands it back to every hook),
    ``extra_losses`` every training batch, ``collect`` every scan batch and every test batch
    (for the names in ``scores``), ``collect_inputs`` every scan batch, ``select`` once per
    cycle after the scan (a model of the strategy's own, e.g. VAAL's VAE, is trained there,
    seeded from the ``rng`` it is given).
    """

    name: ClassVar[str] = ""  # set by the registry
    display_name: ClassVar[str] = ""  # legend label in reports; default: the name
    baseline: ClassVar[bool] = False  # reports compare every strategy with the baselines
    oracle: ClassVar[bool] = False  # uses knowledge a real run lacks: drawn apart, never a winner
    requires: ClassVar[frozenset[str]] = frozenset()  # task capabilities it needs ("a|b": one of)
    needs_scan: ClassVar[bool] = True  # False: select() gets a Scan with no stats
    scan_labeled: ClassVar[bool] = False  # True: the labeled set is scanned as well
    pairs_in_batch: ClassVar[bool] = False  # True: its loss pairs the samples of a batch, so
    # an odd train.batch_size is refused before any run (the last partial batch of an epoch
    # may still be odd: its unpaired sample, a different one every epoch, is left out)
    scores: ClassVar[tuple[str, ...]] = ()  # collect() keys that are per-sample scores,
    # evaluated against the true test loss every cycle (ranking accuracy, correlations)
    lookahead: ClassVar[bool] = False  # True: select() gets Scan.probe, which reads the test
    # split (an oracle's knowledge: declare ``oracle = True`` too)

    def auxiliary(self, task: Task) -> nn.Module | None:
        """A module trained jointly with the target model (called once per job), or None."""
        return None

    def extra_losses(
        self, out: StepOutput, aux: nn.Module | None, *, detach_taps: bool
    ) -> dict[str, Tensor]:
        """Loss terms added to the mean target loss for one training batch.

        ``detach_taps`` is True from the task's stop-gradient epoch on.
        """
        return {}

    def collect(self, out: StepOutput, aux: nn.Module | None, task: Task) -> dict[str, Tensor]:
        """Per-sample statistics of one scan batch (eval mode, no autograd): name -> (B, ...)."""
        return {}

    def collect_inputs(self, batch: Any, task: Task) -> dict[str, Tensor]:
        """Per-sample statistics of one scan batch's *inputs*: ``batch`` as the task gives it,
        on the device (pool items, no augmentation, scan order), name -> (B, ...), merged with
        :meth:`collect`'s. Scans only (never the test split). Default: none."""
        return {}

    @abstractmethod
    def select(self, scan: Scan, budget: int, rng: np.random.Generator) -> np.ndarray:
        """``budget`` distinct pool indices out of ``scan.candidates``."""

    def selection_cost(self, cycle: CycleWork) -> SelectionCost:
        """The work ``select`` adds to a cycle beyond the scan every strategy gets, for a plan's
        estimate (``albench plan``): probes trained, passes of the scan repeated, a model of the
        strategy's own trained. Default: none (ranking the scan's scores is free)."""
        return SelectionCost()

    def get_params(self) -> dict[str, Any]:
        """The hyper-parameters given to ``__init__`` (logged as run params)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}
