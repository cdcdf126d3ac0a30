"""The ``shift`` parameter of ``shapes``: training images are translated by up to ``shift``
pixels (zero pad and crop) with their boxes, evaluation images never are."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from albench.config import load_benchmark
from albench.errors import ConfigError
from albench.tasks.detection.shapes import MIN_VISIBLE_PX, ShapesTask, generate

SIDE, SHIFT, POOL, TEST = 64, 8, 12, 4


def _task_data(root, shift: int = SHIFT, difficulty: float = 0.0):
    task = ShapesTask(pool_size=POOL, test_size=TEST, shift=shift, difficulty=difficulty)
    return task.datasets(str(root), False)


def _read(dataset, i: int, seed: int):
    torch.manual_seed(seed)
    return dataset[i]


def _real(data, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The generated boxes, labels and difficult flags of image ``i`` without padding."""
    keep = data.labels[i] > 0
    return (
        torch.from_numpy(data.boxes[i][keep]),
        torch.from_numpy(data.labels[i][keep]),
        torch.from_numpy(data.difficult[i][keep]),
    )


def _find_move(original: torch.Tensor, image: torch.Tensor) -> list[tuple[int, int, bool]]:
    """Every (dx, dy, flipped) with |dx|, |dy| <= SHIFT that turns ``original`` into ``image``
    (zero padding, translation, then an optional horizontal flip)."""
    padded = F.pad(original, (SHIFT,) * 4)
    found = []
    for top in range(2 * SHIFT + 1):
        for left in range(2 * SHIFT + 1):
            crop = padded[:, top : top + SIDE, left : left + SIDE]
            for flipped in (False, True):
                if torch.equal(crop.flip(-1) if flipped else crop, image):
                    found.append((SHIFT - left, SHIFT - top, flipped))
    return found


def test_shift_0_trains_on_a_plain_horizontal_flip(tmp_path):
    """Without shift (quick's shapes) the training transform is the flip alone, p = 0.5."""
    params = dict(load_benchmark("quick").task("shapes").params, pool_size=POOL, test_size=TEST)
    task = ShapesTask(**params)
    assert task.shift == 0
    data = task.datasets(str(tmp_path), False)
    assert type(data.pool_train.transform) is v2.RandomHorizontalFlip
    assert data.pool_train.transform.p == 0.5
    original = generate(POOL, SIDE, 0, "pool")
    for seed in range(4):
        image, target = _read(data.pool_train, 1, seed)
        plain = torch.from_numpy(original.images[1]).permute(2, 0, 1)
        assert torch.equal(image, plain) or torch.equal(image, plain.flip(-1))
        assert len(target["boxes"]) == len(_real(original, 1)[0])  # nothing is cut


@pytest.mark.parametrize("difficulty", [0.0, 1.0])
def test_shifted_training_items_are_well_formed(tmp_path, difficulty):
    """With shift 8: uint8 (3, 64, 64) images, aligned targets, boxes inside and >= 4 px."""
    train = _task_data(tmp_path, difficulty=difficulty).pool_train
    for i in range(POOL):
        for seed in range(3):
            image, target = _read(train, i, seed)
            assert image.shape == (3, SIDE, SIDE) and image.dtype == torch.uint8
            boxes, labels, difficult = target["boxes"], target["labels"], target["difficult"]
            assert boxes.shape == (len(labels), 4) and len(difficult) == len(labels)
            assert labels.dtype == torch.int64 and difficult.dtype == torch.bool
            assert ((labels >= 1) & (labels <= 3)).all()
            assert (boxes >= 0).all() and (boxes <= SIDE).all()
            size = boxes[:, 2:] - boxes[:, :2]
            assert (size >= MIN_VISIBLE_PX).all(), (i, seed, boxes)


@pytest.mark.parametrize("difficulty", [0.0, 1.0])
def test_shifted_training_items_follow_the_seed(tmp_path, difficulty):
    """The same torch seed reproduces an item; different seeds give different items."""
    train = _task_data(tmp_path, difficulty=difficulty).pool_train
    for i in (0, 5):
        image, target = _read(train, i, 3)
        again, target_again = _read(train, i, 3)
        assert torch.equal(image, again)
        for key in ("boxes", "labels", "difficult"):
            assert torch.equal(target[key], target_again[key])
        others = [_read(train, i, seed)[0] for seed in range(4, 8)]
        assert any(not torch.equal(image, other) for other in others)


def test_boxes_move_with_the_image(tmp_path):
    """Each training image is the drawn one shifted by one (dx, dy) within 8 px, perhaps
    mirrored, and its boxes are the drawn boxes moved alike, clipped, those under 4 px gone."""
    train = _task_data(tmp_path).pool_train
    original = generate(POOL, SIDE, 0, "pool")
    moves = set()
    for i in range(POOL):
        plain = torch.from_numpy(original.images[i]).permute(2, 0, 1)
        boxes, labels, difficult = _real(original, i)
        for seed in range(3 * i, 3 * i + 3):  # 36 seeds: several moves
            image, target = _read(train, i, seed)
            found = _find_move(plain, image)
            assert len(found) == 1, (i, seed, found)
            dx, dy, flipped = found[0]
            moves.add(found[0])
            moved = (boxes + torch.tensor([dx, dy, dx, dy])).clamp(0, SIDE)
            if flipped:
                moved = torch.stack(
                    [SIDE - moved[:, 2], moved[:, 1], SIDE - moved[:, 0], moved[:, 3]], dim=1
                )
            kept = ((moved[:, 2:] - moved[:, :2]) >= MIN_VISIBLE_PX).all(dim=1)
            torch.testing.assert_close(target["boxes"], moved[kept], rtol=0, atol=1e-4)
            assert torch.equal(target["labels"], labels[kept])
            assert torch.equal(target["difficult"], difficult[kept])
    assert {f for _, _, f in moves} == {False, True}  # both orientations were seen
    assert len({(dx, dy) for dx, dy, _ in moves}) > 5  # and several translations


@pytest.mark.parametrize("difficulty", [0.0, 1.0])
def test_evaluation_items_are_never_shifted(tmp_path, difficulty):
    """pool_eval and test items carry the generated boxes exactly, whatever the seed."""
    data = _task_data(tmp_path, difficulty=difficulty)
    for dataset, split, n in ((data.pool_eval, "pool", POOL), (data.test, "test", TEST)):
        generated = generate(n, SIDE, 0, split, difficulty)
        for i in range(n):
            image, target = _read(dataset, i, 0)
            boxes, labels, difficult = _real(generated, i)
            assert torch.equal(target["boxes"], boxes)
            assert torch.equal(target["labels"], labels)
            assert torch.equal(target["difficult"], difficult)
            assert torch.equal(_read(dataset, i, 1)[0], image)  # the seed changes nothing
            if difficulty == 0:
                plain = torch.from_numpy(generated.images[i]).permute(2, 0, 1)
                assert torch.equal(image, plain)


@pytest.mark.parametrize("shift", [-1, 32, 8.0, 2.5, True])
def test_shift_outside_0_to_half_the_image_is_refused(shift):
    """A shift below 0, at least half the 64-px image or not a whole number of pixels is a
    ConfigError naming the key (a float would fail inside torchvision after the run began)."""
    with pytest.raises(ConfigError) as caught:
        ShapesTask(shift=shift)
    message = str(caught.value)
    assert "tasks.shapes.params.shift" in message and str(shift) in message


@pytest.mark.parametrize("shift", [0, 31])
def test_shift_from_0_to_just_under_half_the_image_is_accepted(shift):
    """The limits of the valid range [0, 32) construct a task."""
    assert ShapesTask(shift=shift).shift == shift
