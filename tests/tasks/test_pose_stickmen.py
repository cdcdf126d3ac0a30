"""The stickmen twin: deterministic figures, the left/right cue, the atomic on-disk cache."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from albench.errors import ConfigError
from albench.tasks.pose import StickmenTask
from albench.tasks.pose import stickmen as stickmen_module
from albench.tasks.pose.stickmen import draw_stickman, generate_stickmen, load_stickmen

LEFT_ENDS, RIGHT_ENDS = (5, 15), (0, 10)  # l ankle, l wrist; r ankle, r wrist


def test_generation_is_deterministic_and_the_test_split_ignores_the_pool_size():
    a = generate_stickmen(seed=0, split=1, count=6, size=64)
    b = generate_stickmen(seed=0, split=1, count=6, size=64)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    other = generate_stickmen(seed=1, split=1, count=6, size=64)
    assert not np.array_equal(a["images"], other["images"])
    pool = generate_stickmen(seed=0, split=0, count=6, size=64)
    assert not np.array_equal(a["images"], pool["images"])
    longer = generate_stickmen(seed=0, split=1, count=8, size=64)
    assert np.array_equal(longer["images"][:6], a["images"])  # image i depends on i alone


def test_figures_have_ground_truth_a_head_box_and_a_colour_cue_for_sides():
    rng = np.random.default_rng(0)
    red_minus_blue = {"left": [], "right": []}
    for _ in range(64):
        image, joints, visible, head_box = draw_stickman(rng, 64)
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
        assert joints.shape == (16, 2) and visible.shape == (16,)
        off_canvas = ((joints < 0) | (joints > 63)).any(axis=1)
        assert not visible[off_canvas].any()  # no ground truth off the canvas
        x1, y1, x2, y2 = head_box
        for j in (8, 9):  # upper neck and head top lie on the head box's disc
            assert x1 - 1e-3 <= joints[j, 0] <= x2 + 1e-3 and y1 - 1e-3 <= joints[j, 1] <= y2 + 1e-3
        for side, ends in (("left", LEFT_ENDS), ("right", RIGHT_ENDS)):
            for j in ends:
                if visible[j]:
                    x, y = joints[j].round().astype(int)
                    red_minus_blue[side].append(int(image[y, x, 0]) - int(image[y, x, 2]))
    assert np.mean(red_minus_blue["left"]) > 40  # left limbs red
    assert np.mean(red_minus_blue["right"]) < -40  # right limbs blue


def test_cache_is_written_once_atomically_and_reused(tmp_path, monkeypatch):
    pool, test = load_stickmen(tmp_path, seed=0, pool=12, test=5, size=64)
    files = list((tmp_path / "stickmen").iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"  # no temporary file left behind
    assert pool["images"].shape == (12, 64, 64, 3) and test["joints"].shape == (5, 16, 2)

    def fail(*args, **kwargs):
        raise AssertionError("regenerated although cached")

    monkeypatch.setattr(stickmen_module, "generate_stickmen", fail)
    again, _ = load_stickmen(tmp_path, seed=0, pool=12, test=5, size=64)
    assert np.array_equal(again["images"], pool["images"])
    with pytest.raises(AssertionError, match="regenerated"):  # other parameters, other file
        load_stickmen(tmp_path, seed=0, pool=13, test=5, size=64)


def test_concurrent_generation_leaves_one_complete_file(tmp_path):
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: load_stickmen(tmp_path, 7, 20, 4, 64), range(4)))
    for pool_arrays, _ in results[1:]:
        assert np.array_equal(pool_arrays["images"], results[0][0]["images"])
    names = [p.name for p in (tmp_path / "stickmen").iterdir()]
    assert len(names) == 1 and names[0].endswith(".npz"), names


def test_task_data_and_model_fit_together(tmp_path):
    task = StickmenTask(pool_size=20, test_size=6)
    data = task.datasets(str(tmp_path), download=False)
    assert (data.pool_size, len(data.test)) == (20, 6)
    torch.manual_seed(0)
    batch = task.collate([data.pool_train[i] for i in range(4)])
    assert batch["image"].shape == (4, 3, 64, 64) and batch["target"].shape == (4, 16, 16, 16)
    out = task.step(task.build_model(), batch, train=True)
    assert out.loss.shape == (4,) and [t.shape[1] for t in out.taps] == list(task.tap_channels)
    copy = pickle.loads(pickle.dumps(data.pool_eval))  # what a DataLoader worker gets
    assert torch.equal(copy[3]["image"], data.pool_eval[3]["image"])
    plain = data.pool_eval[3]
    assert torch.equal(plain["image"], data.pool_eval[3]["image"])  # no augmentation
    assert torch.allclose(plain["inverse"], torch.tensor([[4.0, 0, 1.5], [0, 4.0, 1.5]]))


@pytest.mark.parametrize(
    ("params", "match"),
    [({"image_size": 60}, "multiple of 4 x 2\\^depth = 32"), ({"features": 30}, "multiple of 4")],
)
def test_bad_parameters_are_config_errors(params, match):
    with pytest.raises(ConfigError, match=match):
        StickmenTask(**params)
