"""Per-image difficulty of the generated twins ``shapes`` and ``stickmen``: faded contrast
stored with the image, grain added at every read (fresh in training, fixed in evaluation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from albench.errors import ConfigError
from albench.tasks import images as images_module
from albench.tasks.detection import shapes
from albench.tasks.detection.shapes import ShapesDataset, ShapesTask, generate, load_or_generate
from albench.tasks.images import FADE, GRAIN, add_grain, eval_generator, fade
from albench.tasks.pose import StickmenTask
from albench.tasks.pose import stickmen as stickmen_module
from albench.tasks.pose.stickmen import GrainedImages, generate_stickmen, load_stickmen

SHAPE_FIELDS = ("images", "boxes", "labels", "difficult")
STICKMEN_FIELDS = ("images", "joints", "visible", "head_box")


def _faded(image: np.ndarray, level: float) -> np.ndarray:
    """What the generators store for a drawn uint8 image at ``level``."""
    return np.clip(fade(image.astype(np.float64), level), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------- tasks/images.py
def test_constants_keep_a_faded_image_an_image():
    """Level 1 keeps a non-negative share of the contrast and adds some grain (the values
    themselves are tuning: the tests below read them from the module)."""
    assert 0.0 < FADE <= 1.0 and GRAIN > 0.0


def test_fade_by_hand(monkeypatch):
    """With FADE = 0.7, a 2-pixel image [0, 100] (mean 50) at level 1 keeps 1 - 0.7 = 30 %
    of its contrast: 50 -+ 15 = [35, 65]; at level 0.5, 65 %: [17.5, 82.5]."""
    monkeypatch.setattr(images_module, "FADE", 0.7)
    image = np.array([[[0.0], [100.0]]])  # (H=1, W=2, C=1)
    np.testing.assert_allclose(fade(image, 1.0), [[[35.0], [65.0]]])
    np.testing.assert_allclose(fade(image, 0.5), [[[17.5], [82.5]]])


def test_fade_uses_the_module_constant():
    """The same image with the shipped FADE: 50 -+ 50 (1 - FADE x level)."""
    image = np.array([[[0.0], [100.0]]])
    keep = 1.0 - FADE * 0.8
    np.testing.assert_allclose(fade(image, 0.8), [[[50 - 50 * keep], [50 + 50 * keep]]])


def test_fade_shrinks_each_channel_towards_its_own_mean(monkeypatch):
    """Channels are faded independently: channel means stay, deviations scale by 0.3
    (channel 2: 150 -+ 15)."""
    monkeypatch.setattr(images_module, "FADE", 0.7)
    image = np.array([[[0.0, 200.0], [100.0, 100.0]]])  # channel means 50 and 150
    np.testing.assert_allclose(fade(image, 1.0), [[[35.0, 165.0], [65.0, 135.0]]])


def test_fade_at_level_zero_returns_the_image_itself():
    image = np.arange(12, dtype=np.float64).reshape(2, 2, 3)
    assert fade(image, 0.0) is image


def test_add_grain_at_level_zero_returns_the_same_tensor_and_draws_nothing():
    """Level 0: the very same tensor back and torch's global generator untouched."""
    image = torch.arange(48, dtype=torch.uint8).reshape(3, 4, 4)
    before = torch.get_rng_state()
    assert add_grain(image, 0.0) is image
    assert torch.equal(torch.get_rng_state(), before)


def test_add_grain_with_its_own_generator_leaves_the_global_one_alone():
    image = torch.full((3, 8, 8), 128, dtype=torch.uint8)
    before = torch.get_rng_state()
    add_grain(image, 1.0, eval_generator(1, 5))
    assert torch.equal(torch.get_rng_state(), before)


def test_add_grain_is_clipped_uint8_of_the_stated_strength():
    """Mid-grey 128 at the level of std 20 (20 / GRAIN): std about 20 grey levels, mean
    about 128; a white image stays within [0, 255] and only gets darker."""
    grey = torch.full((3, 64, 64), 128, dtype=torch.uint8)
    out = add_grain(grey, 20.0 / GRAIN, torch.Generator().manual_seed(0))
    assert out.dtype == torch.uint8 and out.shape == grey.shape
    assert out.float().std().item() == pytest.approx(20.0, rel=0.05)
    assert out.float().mean().item() == pytest.approx(128.0, abs=1.0)
    white = add_grain(torch.full((3, 16, 16), 255, dtype=torch.uint8), 1.0)
    assert white.dtype == torch.uint8 and white.max() == 255 and white.min() < 255


def test_eval_generator_is_fixed_per_seed_and_index():
    draw = lambda g: torch.randn(4, generator=g)  # noqa: E731
    assert torch.equal(draw(eval_generator(0, 3)), draw(eval_generator(0, 3)))
    assert not torch.equal(draw(eval_generator(0, 3)), draw(eval_generator(0, 4)))
    assert not torch.equal(draw(eval_generator(0, 3)), draw(eval_generator(1, 3)))


# ------------------------------------------------------------------ (a) difficulty 0 = off
def test_shapes_difficulty_zero_is_bit_identical_to_the_default():
    """generate(n, 64, seed, split) == generate(..., 0.0); levels all 0; reads add nothing."""
    default, zero = generate(8, 64, 0, "pool"), generate(8, 64, 0, "pool", 0.0)
    for key in SHAPE_FIELDS:
        assert np.array_equal(getattr(default, key), getattr(zero, key)), key
    assert zero.levels.shape == (8,) and (zero.levels == 0).all()
    for train in (False, True):
        data = ShapesDataset(zero, train=train)
        for i in range(8):
            assert torch.equal(data[i][0], torch.from_numpy(zero.images[i]).permute(2, 0, 1))


def test_stickmen_difficulty_zero_is_bit_identical_to_the_default():
    default = generate_stickmen(seed=0, split=0, count=8, size=64)
    zero = generate_stickmen(seed=0, split=0, count=8, size=64, difficulty=0.0)
    for key in STICKMEN_FIELDS:
        assert np.array_equal(default[key], zero[key]), key
    assert zero["levels"].shape == (8,) and (zero["levels"] == 0).all()
    for fresh in (False, True):
        images = GrainedImages(zero["images"], zero["levels"], fresh=fresh, seed=0)
        for i in range(8):
            assert np.array_equal(np.asarray(images(i)), zero["images"][i])


# ------------------------------------------------------------ (b) difficulty 1: faded images
def test_shapes_levels_and_the_stored_image_is_the_faded_drawing():
    """Levels in [0, 1], not all equal; image 0 is drawn from the same stream state as at
    difficulty 0 (the level is drawn after it), so it is that drawing faded by its level,
    with a smaller spread of grey levels."""
    plain, hard = generate(12, 64, 0, "pool"), generate(12, 64, 0, "pool", 1.0)
    levels = hard.levels
    assert levels.shape == (12,) and (levels >= 0).all() and (levels <= 1).all()
    assert len(np.unique(levels)) > 1
    assert np.array_equal(hard.images[0], _faded(plain.images[0], levels[0]))
    assert np.array_equal(hard.boxes[0], plain.boxes[0])  # the objects are unchanged
    assert levels[0] > 0.5  # seed 0: about 0.96, so the fade is visible
    assert hard.images[0].astype(float).std() < plain.images[0].astype(float).std()


def test_shapes_levels_scale_with_the_difficulty():
    """difficulty 0.5: levels uniform in [0, 0.5]."""
    levels = generate(12, 64, 0, "pool", 0.5).levels
    assert (levels >= 0).all() and (levels <= 0.5).all() and len(np.unique(levels)) > 1


def test_stickmen_levels_and_every_stored_image_is_its_drawing_faded():
    """Each figure has its own stream and draws its level after the drawing, so every image
    at difficulty 1 is the difficulty-0 image faded by its level (lower spread when the
    level is above 0); the joints are unchanged."""
    plain = generate_stickmen(seed=0, split=1, count=8, size=64)
    hard = generate_stickmen(seed=0, split=1, count=8, size=64, difficulty=1.0)
    levels = hard["levels"]
    assert (levels >= 0).all() and (levels <= 1).all() and len(np.unique(levels)) > 1
    for key in ("joints", "visible", "head_box"):
        assert np.array_equal(hard[key], plain[key]), key
    for i in range(8):
        assert np.array_equal(hard["images"][i], _faded(plain["images"][i], levels[i])), i
        if levels[i] > 0.1:
            assert hard["images"][i].astype(float).std() < plain["images"][i].astype(float).std()


# ------------------------------------------------------------ (c) grain at read time
def _hard_index(levels: np.ndarray) -> int:
    """An item with a level clearly above 0."""
    return int(np.argmax(levels))


def test_shapes_eval_reads_are_fixed_grain_of_eval_generator():
    """Eval reads of an item with level > 0 repeat exactly, differ from the stored image,
    equal add_grain(stored, level, eval_generator(grain_seed, i)), differ between grain
    seeds, and do not touch torch's global generator."""
    data = generate(8, 64, 0, "test", 1.0)
    i = _hard_index(data.levels)
    stored = torch.from_numpy(data.images[i]).permute(2, 0, 1)
    ds = ShapesDataset(data, grain_seed=1)
    before = torch.get_rng_state()
    first, second = ds[i][0], ds[i][0]
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(first, second) and not torch.equal(first, stored)
    assert torch.equal(first, add_grain(stored, float(data.levels[i]), eval_generator(1, i)))
    assert not torch.equal(first, ShapesDataset(data, grain_seed=0)[i][0])


def test_shapes_training_reads_are_fresh_but_follow_the_global_seed():
    """train=True: two reads differ; the same torch.manual_seed gives the same reads."""
    data = generate(8, 64, 0, "pool", 1.0)
    i = _hard_index(data.levels)
    ds = ShapesDataset(data, train=True)
    torch.manual_seed(123)
    a1, a2 = ds[i][0], ds[i][0]
    torch.manual_seed(123)
    b1, b2 = ds[i][0], ds[i][0]
    assert not torch.equal(a1, a2)
    assert torch.equal(a1, b1) and torch.equal(a2, b2)


def test_stickmen_eval_reads_are_fixed_grain_of_eval_generator():
    data = generate_stickmen(seed=0, split=1, count=8, size=64, difficulty=1.0)
    i = _hard_index(data["levels"])
    images = GrainedImages(data["images"], data["levels"], fresh=False, seed=1)
    before = torch.get_rng_state()
    first, second = np.asarray(images(i)), np.asarray(images(i))
    assert torch.equal(torch.get_rng_state(), before)
    assert isinstance(images(i), Image.Image)
    assert np.array_equal(first, second) and not np.array_equal(first, data["images"][i])
    expected = add_grain(torch.from_numpy(data["images"][i]), float(data["levels"][i]),
                         eval_generator(1, i))  # fmt: skip
    assert np.array_equal(first, expected.numpy())


def test_stickmen_training_reads_are_fresh_but_follow_the_global_seed():
    data = generate_stickmen(seed=0, split=0, count=8, size=64, difficulty=1.0)
    i = _hard_index(data["levels"])
    images = GrainedImages(data["images"], data["levels"], fresh=True, seed=0)
    torch.manual_seed(7)
    a1, a2 = np.asarray(images(i)), np.asarray(images(i))
    torch.manual_seed(7)
    b1, b2 = np.asarray(images(i)), np.asarray(images(i))
    assert not np.array_equal(a1, a2)
    assert np.array_equal(a1, b1) and np.array_equal(a2, b2)


def test_shapes_task_wires_fresh_training_and_fixed_eval_grain(tmp_path):
    """ShapesTask(difficulty=1): pool_train reads vary, pool_eval and test reads repeat,
    and pool_eval / test use their own grain seeds (0 and 1, the split indices)."""
    task = ShapesTask(pool_size=8, test_size=8, difficulty=1.0)
    data = task.datasets(str(tmp_path), download=False)
    pool = load_or_generate(tmp_path, 8, 64, 0, "pool", 1.0)
    i = _hard_index(pool.levels)
    stored = torch.from_numpy(pool.images[i]).permute(2, 0, 1)
    level = float(pool.levels[i])
    assert torch.equal(data.pool_eval[i][0], add_grain(stored, level, eval_generator(0, i)))
    assert torch.equal(data.pool_eval[i][0], data.pool_eval[i][0])
    assert torch.equal(data.test[0][0], data.test[0][0])
    torch.manual_seed(0)
    assert not torch.equal(data.pool_train[i][0], data.pool_train[i][0])


def test_stickmen_task_wires_fresh_training_and_fixed_eval_grain(tmp_path):
    task = StickmenTask(pool_size=8, test_size=4, difficulty=1.0)
    data = task.datasets(str(tmp_path), download=False)
    assert torch.equal(data.pool_eval[2]["image"], data.pool_eval[2]["image"])
    assert torch.equal(data.test[1]["image"], data.test[1]["image"])
    pool, _ = load_stickmen(tmp_path, 0, 8, 4, 64, 1.0)
    i = _hard_index(pool["levels"])
    images = data.pool_train.load_image
    assert isinstance(images, GrainedImages) and images.fresh
    assert not data.pool_eval.load_image.fresh and data.test.load_image.seed == 1
    torch.manual_seed(0)
    assert not np.array_equal(np.asarray(images(i)), np.asarray(images(i)))


# ------------------------------------------------------------------------ (e) the cache key
def test_shapes_cache_file_depends_on_the_difficulty(tmp_path, monkeypatch):
    """Difficulty 1 writes another file than 0; reloading it keeps its levels."""
    zero = load_or_generate(tmp_path, 8, 64, 0, "pool")
    hard = load_or_generate(tmp_path, 8, 64, 0, "pool", 1.0)
    assert len(list((tmp_path / "shapes").glob("*.npz"))) == 2
    assert (zero.levels == 0).all() and not np.array_equal(zero.images, hard.images)

    def refuse(*args, **kwargs):
        raise AssertionError("regenerated although cached")

    monkeypatch.setattr(shapes, "generate", refuse)
    again = load_or_generate(tmp_path, 8, 64, 0, "pool", 1.0)
    assert np.array_equal(again.levels, hard.levels) and np.array_equal(again.images, hard.images)


def test_shapes_file_without_levels_loads_as_all_zero(tmp_path):
    """A cache file from before levels (no ``levels`` array) loads with levels None, and
    its dataset reads the stored images unchanged."""
    load_or_generate(tmp_path, 8, 64, 0, "pool")
    (path,) = (tmp_path / "shapes").glob("*.npz")
    with np.load(path) as f:
        old = {k: f[k] for k in SHAPE_FIELDS}
    np.savez(path, **old)
    data = load_or_generate(tmp_path, 8, 64, 0, "pool")
    assert (data.levels == 0).all() and len(data.levels) == 8
    assert np.array_equal(data.images, old["images"])
    for train in (False, True):
        item = ShapesDataset(data, train=train)[3][0]
        assert torch.equal(item, torch.from_numpy(old["images"][3]).permute(2, 0, 1))


def test_stickmen_cache_file_depends_on_the_difficulty(tmp_path, monkeypatch):
    zero, _ = load_stickmen(tmp_path, 0, 8, 4, 64)
    hard, hard_test = load_stickmen(tmp_path, 0, 8, 4, 64, 1.0)
    assert len(list((tmp_path / "stickmen").glob("*.npz"))) == 2
    assert (zero["levels"] == 0).all() and len(np.unique(hard["levels"])) > 1
    assert hard_test["levels"].shape == (4,)

    def fail(*args, **kwargs):
        raise AssertionError("regenerated although cached")

    monkeypatch.setattr(stickmen_module, "generate_stickmen", fail)
    again, _ = load_stickmen(tmp_path, 0, 8, 4, 64, 1.0)
    assert np.array_equal(again["levels"], hard["levels"])


def test_stickmen_file_without_levels_loads_as_all_zero(tmp_path):
    load_stickmen(tmp_path, 0, 8, 4, 64)
    (path,) = (tmp_path / "stickmen").glob("*.npz")
    with np.load(path) as f:
        old = {k: f[k] for k in f.files if not k.endswith("_levels")}
    np.savez(path, **old)
    pool, test = load_stickmen(tmp_path, 0, 8, 4, 64)
    assert pool["levels"].shape == (8,) and (pool["levels"] == 0).all()
    assert test["levels"].shape == (4,) and (test["levels"] == 0).all()
    images = GrainedImages(pool["images"], pool["levels"], fresh=True, seed=0)
    assert np.array_equal(np.asarray(images(5)), old["pool_images"][5])


# ---------------------------------------------------------------- (f) parameter validation
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ShapesTask(difficulty=1.5), r"tasks\.shapes\.params\.difficulty = 1\.5"),
        (lambda: ShapesTask(difficulty=-0.1), r"tasks\.shapes\.params\.difficulty = -0\.1"),
        (lambda: StickmenTask(difficulty=-0.1), r"tasks\.stickmen\.params\.difficulty = -0\.1"),
        (lambda: StickmenTask(difficulty=1.5), r"tasks\.stickmen\.params\.difficulty = 1\.5"),
        (lambda: ShapesTask(difficulty=float("nan")), r"difficulty = nan"),
        (lambda: StickmenTask(difficulty="abc"), r"tasks\.stickmen\.params\.difficulty = .abc."),
        (lambda: ShapesTask(difficulty=True), r"tasks\.shapes\.params\.difficulty = True"),
    ],
)
def test_difficulty_outside_zero_one_is_a_config_error(make, match):
    """The message names the parameter and the bad value (and the valid range)."""
    with pytest.raises(ConfigError, match=match) as err:
        make()
    assert "[0, 1]" in str(err.value)


@pytest.mark.parametrize("difficulty", [0.0, 1.0])
def test_difficulty_bounds_are_accepted(difficulty):
    assert ShapesTask(difficulty=difficulty).difficulty == difficulty
    assert StickmenTask(difficulty=difficulty).difficulty == difficulty
