"""Tests of the procedural demo set: determinism, layout, labels and crack content."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageFilter

from crackgan import demo_data
from crackgan.config import ConfigError
from crackgan.demo_cracks import CrackField, CrackStyle, grow_crack
from crackgan.demo_data import (
    MARKER_NAME,
    DemoDataConfig,
    render_demo_image,
    write_demo_set,
)


def thin_bright_fraction(image: np.ndarray) -> float:
    """Share of pixels on thin bright lines: grey level minus its 3x3 opening."""
    grey = Image.fromarray(image).convert("L")
    opened = grey.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.MaxFilter(3))
    top_hat = np.asarray(grey, np.int16) - np.asarray(opened, np.int16)
    return float(np.mean(top_hat > 40))


def test_render_is_deterministic_per_seed_and_index() -> None:
    first = render_demo_image("cracked", seed=3, index=5, size=64)
    again = render_demo_image("cracked", seed=3, index=5, size=64)
    other_seed = render_demo_image("cracked", seed=4, index=5, size=64)
    other_index = render_demo_image("cracked", seed=3, index=6, size=64)

    assert first.shape == (64, 64, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other_seed)
    assert not np.array_equal(first, other_index)


def test_render_rejects_unknown_label() -> None:
    with pytest.raises(ValueError, match="label"):
        render_demo_image("scratched", seed=0, index=0, size=64)


def test_write_demo_set_layout_labels_and_marker(tmp_path) -> None:
    out = tmp_path / "demo"
    counts = write_demo_set(DemoDataConfig(out=str(out), count=7, seed=1, size=48))

    cracked = sorted(path.name for path in (out / "cracked").iterdir())
    intact = sorted(path.name for path in (out / "intact").iterdir())
    assert counts == {"cracked": 4, "intact": 3}
    assert cracked == [f"procedural_cracked_{i:04d}.png" for i in range(1, 5)]
    assert intact == [f"procedural_intact_{i:04d}.png" for i in range(1, 4)]
    marker = (out / MARKER_NAME).read_text()
    assert "not photographs" in marker and "seed: 1" in marker
    with Image.open(out / "cracked" / cracked[0]) as image:
        assert image.size == (48, 48) and image.mode == "RGB"
    assert not list(tmp_path.glob(".demo.staging-*"))


def test_image_does_not_depend_on_count(tmp_path) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    write_demo_set(DemoDataConfig(out=str(small), count=2, seed=9, size=32))
    write_demo_set(DemoDataConfig(out=str(large), count=6, seed=9, size=32))

    name = "cracked/procedural_cracked_0001.png"
    assert (small / name).read_bytes() == (large / name).read_bytes()


def test_existing_set_is_kept_unless_forced(tmp_path) -> None:
    out = tmp_path / "demo"
    config = DemoDataConfig(out=str(out), count=2, seed=0, size=32)
    write_demo_set(config)
    image = out / "intact" / "procedural_intact_0001.png"
    image.write_bytes(b"changed")

    write_demo_set(config)
    assert image.read_bytes() == b"changed"
    write_demo_set(DemoDataConfig(out=str(out), count=2, seed=0, size=32, force=True))
    assert image.read_bytes() != b"changed"


def test_refuses_to_replace_a_folder_without_marker(tmp_path) -> None:
    photos = tmp_path / "photos" / "cracked"
    photos.mkdir(parents=True)
    (photos / "mine.jpg").write_bytes(b"not really a jpeg")

    with pytest.raises(ConfigError, match="--out"):
        write_demo_set(DemoDataConfig(out=str(tmp_path / "photos"), count=2, size=32))
    assert (photos / "mine.jpg").read_bytes() == b"not really a jpeg"


def test_config_errors_name_the_flag() -> None:
    with pytest.raises(ConfigError, match="--count"):
        DemoDataConfig(count=1)
    with pytest.raises(ConfigError, match="--size"):
        DemoDataConfig(size=8)


def test_main_exit_codes(tmp_path) -> None:
    out = tmp_path / "cli"
    assert demo_data.main(["--out", str(out), "--count", "2", "--size", "32"]) == 0
    assert len(list(out.glob("*/*.png"))) == 2
    assert demo_data.main(["--out", str(out), "--count", "0"]) == 2


def test_cracked_images_have_more_thin_bright_lines() -> None:
    cracked = [
        thin_bright_fraction(render_demo_image("cracked", 0, i, 128)) for i in range(16)
    ]
    intact = [
        thin_bright_fraction(render_demo_image("intact", 0, i, 128)) for i in range(16)
    ]

    # Compare medians, and how often a cracked image beats an intact one (a light
    # phone rim or a woven cloth also makes thin bright lines, so not always).
    assert np.median(cracked) > 3 * max(np.median(intact), 1e-4)
    wins = np.mean(np.array(cracked)[:, None] > np.array(intact)[None, :])
    assert wins > 0.7


def test_crack_walk_turns_gently_and_branches() -> None:
    rng = np.random.default_rng(0)
    field = CrackField(200, 400, cell=6)
    style = CrackStyle(width=2, brightness=220, alpha=230, step=6, branch_rate=0.1)
    grow_crack(rng, field, (100.0, 200.0), 0.3, 300.0, style)

    assert len(field.paths) > 1, "expected branches"
    main = field.paths[0].points
    assert len(main) > 10
    headings = [
        math.atan2(y1 - y0, x1 - x0) for (x0, y0), (x1, y1) in zip(main, main[1:])
    ]
    turns = [
        abs(math.remainder(b - a, 2 * math.pi)) for a, b in zip(headings, headings[1:])
    ]
    assert np.median(turns) < 0.3, "a crack should mostly run straight-ish"
    assert np.ptp([x for x, _ in main]) > 50, "a crack should travel"
    for path in field.paths:
        assert all(field.inside(x, y) for x, y in path.points[:-1])
