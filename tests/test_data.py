"""colorlab.data: sample photos, folder datasets, augmentation, splits, skipping bad files."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from colorlab.crops import center_crop_resize
from colorlab.data import ColorDataset
from colorlab.images import ImageLoadError, find_images, is_grayscale, load_image
from colorlab.samples import SAMPLE_PHOTOS, sample_images
from colorlab.splits import split_items


def test_sample_images_are_the_bundled_colour_photos_and_need_no_network(photos):
    assert set(photos) == {p.name for p in SAMPLE_PHOTOS}
    assert len(photos) >= 9
    for name, img in photos.items():
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, name
        assert not is_grayscale(img), name


def test_colorlabs_own_photos_load_from_data_photos_and_a_missing_one_says_where(monkeypatch, tmp_path):
    import colorlab.samples as samples

    own = [p for p in SAMPLE_PHOTOS if p.source.startswith("data/photos/")]
    assert {p.name for p in own} == {"raccoon", "abbey"}
    for p in own:
        img = p.load()
        assert img.shape == (600, 800, 3) and not is_grayscale(img), p.name
    monkeypatch.setattr(samples, "PHOTOS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="raccoon.jpg.*ships in every install.*reinstall"):
        own[0].load()


def test_grayscale_photos_are_recognised():
    import skimage.data

    assert is_grayscale(np.repeat(skimage.data.camera()[:, :, None], 3, axis=2))
    assert not is_grayscale(skimage.data.astronaut())


def test_find_images_is_recursive_and_filters_by_extension(tmp_path):
    for rel in ["a.jpg", "sub/b.PNG", "sub/deeper/c.webp", "d.bmp", "e.tif", "notes.txt"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.suffix == ".txt":
            p.write_text("hi")
        else:
            Image.new("RGB", (4, 4), "red").save(p)
    found = [p.relative_to(tmp_path).as_posix() for p in find_images(tmp_path)]
    assert found == ["a.jpg", "d.bmp", "e.tif", "sub/b.PNG", "sub/deeper/c.webp"]


def test_splits_are_deterministic_by_seed_and_disjoint():
    items = [f"img{i}.jpg" for i in range(100)]
    a = split_items(items, 0.1, 0.2, seed=1)
    b = split_items(list(reversed(items)), 0.1, 0.2, seed=1)
    c = split_items(items, 0.1, 0.2, seed=2)
    assert a == b and a != c
    train, val, test = a
    assert (len(train), len(val), len(test)) == (70, 10, 20)
    assert set(train).isdisjoint(val) and set(train).isdisjoint(test) and set(val).isdisjoint(test)
    assert sorted(train + val + test) == sorted(items)


def test_dataset_yields_uint8_crops_with_seeded_augmentation(photos):
    ds = ColorDataset(list(photos.values())[:2], size=32, repeats=3, seed=0)
    assert len(ds) == 6
    x = ds[1]
    assert x.dtype == torch.uint8 and x.shape == (3, 32, 32)
    torch.testing.assert_close(ds[1], x)  # same (seed, epoch, index) -> same crop
    ds.set_epoch(1)
    assert not torch.equal(ds[1], x)  # another epoch -> another crop


def test_augmentation_flips_horizontally_some_of_the_time():
    ramp = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (64, 1, 3))
    ramp[..., 0] = 200  # colourful
    ds = ColorDataset([ramp], size=16, scale=(1.0, 1.0), ratio=(1.0, 1.0), repeats=40)
    increasing = [bool(ds[i][1, 8, -1] > ds[i][1, 8, 0]) for i in range(40)]
    assert 5 < sum(increasing) < 35


def half_gray_half_red() -> np.ndarray:
    img = np.full((96, 192, 3), 128, np.uint8)
    img[:, 96:] = (200, 30, 30)  # the right half is red, the left half gray
    return img


def red_fraction(crop: torch.Tensor) -> float:
    r, g = crop[0].float(), crop[1].float()
    return float(((r - g) > 100).float().mean())


def test_colorful_crops_favour_the_coloured_part_of_a_photo():
    img = half_gray_half_red()
    kwargs = dict(size=16, scale=(0.05, 0.1), ratio=(1.0, 1.0), repeats=60, seed=3)
    plain = ColorDataset([img], **kwargs)
    picky = ColorDataset([img], colorful_crops=4, **kwargs)
    plain_red = np.mean([red_fraction(plain[i]) for i in range(60)])
    picky_red = np.mean([red_fraction(picky[i]) for i in range(60)])
    assert 0.3 < plain_red < 0.7  # uniform crops: about half red
    # The best of 4 is all gray only when all 4 fall on the gray half (1 in 16); crops across the edge are part red.
    assert picky_red > 0.8 and picky_red > plain_red + 0.25
    torch.testing.assert_close(picky[5], picky[5])  # still a pure function of (seed, epoch, index)


def test_colorful_crops_on_files_and_k_1_is_the_plain_sampler(tmp_path):
    from PIL import Image

    img = half_gray_half_red()
    Image.fromarray(img).save(tmp_path / "half.png")
    kwargs = dict(size=16, scale=(0.05, 0.1), ratio=(1.0, 1.0), repeats=20, seed=1)
    from_file = ColorDataset([tmp_path / "half.png"], colorful_crops=4, **kwargs)
    in_memory = ColorDataset([img], colorful_crops=4, **kwargs)
    for i in range(20):
        torch.testing.assert_close(from_file[i], in_memory[i])
    one = ColorDataset([img], colorful_crops=1, **kwargs)
    default = ColorDataset([img], **kwargs)
    for i in range(20):
        torch.testing.assert_close(one[i], default[i])
    with pytest.raises(ValueError, match="colorful_crops must be at least 1"):
        ColorDataset([img], colorful_crops=0)


def test_validation_dataset_takes_a_center_crop(photos):
    ds = ColorDataset([photos["coffee"]], size=64, augment=False)
    first = ds[0]
    ds.set_epoch(7)
    torch.testing.assert_close(ds[0], first)
    torch.testing.assert_close(first, torch.from_numpy(center_crop_resize(photos["coffee"], 64)).permute(2, 0, 1))


def test_dataset_from_folder_names_bad_and_grayscale_files_and_batches_skip_them(tmp_path, photos):
    Image.fromarray(photos["coffee"]).save(tmp_path / "good.jpg")
    (tmp_path / "broken.png").write_bytes(b"not an image at all")
    Image.fromarray(np.full((20, 20), 128, np.uint8)).save(tmp_path / "gray.png")
    ds = ColorDataset.from_folder(tmp_path, size=16)
    by_name = {ds.name(i).split("/")[-1]: i for i in range(len(ds))}
    assert ds[by_name["good.jpg"]].shape == (3, 16, 16)
    with pytest.raises(ImageLoadError, match=r"broken\.png: not an image"):
        ds[by_name["broken.png"]]
    with pytest.raises(ImageLoadError, match=r"gray\.png: grayscale"):
        ds[by_name["gray.png"]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batches = list(ds.batches([[0, 1, 2], [by_name["broken.png"]]], 0, torch.device("cpu")))
    assert [tuple(b.shape) for b in batches] == [(1, 3, 16, 16), (0, 3, 16, 16)]  # one per chunk, bad files left out
    assert batches[0].dtype == torch.uint8  # batch sources yield uint8; colorlab.train.to_network converts
    assert sorted(n.split("/")[-1] for n in ds.skipped.reasons) == ["broken.png", "gray.png"]
    assert len([w for w in caught if "skipping" in str(w.message)]) == 2  # once per file


def test_load_image_errors_name_the_file_and_the_reason(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageLoadError, match=r"empty\.jpg: empty file"):
        load_image(empty)
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "missing.png")


@pytest.mark.parametrize(
    "mode,make",
    [
        ("L", lambda: Image.new("L", (5, 4), 100)),
        ("RGBA", lambda: Image.new("RGBA", (5, 4), (255, 0, 0, 0))),
        ("P", lambda: Image.new("RGB", (5, 4), "blue").convert("P")),
        ("CMYK", lambda: Image.new("CMYK", (5, 4), (0, 255, 255, 0))),
        ("I;16", lambda: Image.fromarray(np.full((4, 5), 65535, np.uint16))),
    ],
)
def test_load_image_turns_every_mode_into_rgb_uint8(mode, make):
    img = make()
    assert img.mode == mode
    out = load_image(img)
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8
    if mode == "RGBA":  # fully transparent -> the white background
        assert (out == 255).all()
    if mode == "I;16":
        assert (out == 255).all()


def test_skipped_files_warn_once_per_file():
    from colorlab.data import SkippedFiles

    skipped = SkippedFiles()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            skipped.report("x.jpg", "truncated")
        skipped.report("y.jpg", "empty")
    assert [str(w.message) for w in caught] == ["skipping x.jpg: truncated", "skipping y.jpg: empty"]
    assert len(skipped) == 2


def test_unknown_sample_photo_lists_the_known_ones():
    with pytest.raises(KeyError, match="coffee"):
        sample_images(["nope"])


def test_load_image_bytes_decodes_like_a_file_and_names_bad_uploads(tmp_path, photos):
    import io

    from colorlab.images import load_image_bytes

    buf = io.BytesIO()
    Image.fromarray(photos["coffee"]).save(buf, "PNG")
    assert np.array_equal(load_image_bytes(buf.getvalue(), "coffee.png"), photos["coffee"])
    with pytest.raises(ImageLoadError, match=r"upload\.jpg: not an image"):
        load_image_bytes(b"plain text", "upload.jpg")
    with pytest.raises(ImageLoadError, match=r"empty\.png: empty file"):
        load_image_bytes(b"", "empty.png")


def test_photo_mix_split_holds_out_every_nth_photo_per_collection_by_rules_that_never_look(tmp_path):
    from colorlab.splits import MIX_SOURCES, photo_mix_split, sha256_of

    def touch(rel: str) -> None:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rel.encode())  # distinct contents, distinct checksums

    for i in range(12):
        touch(f"imagenet/n{i:08d}_x.JPEG")
        touch(f"clothing/images/{i:03d}.jpg")
        touch(f"food/images/cake/{i:03d}.jpg")
        touch(f"catsdogs/dataset/training_set/cats/{i:03d}.jpg")
    for cat in ("a/abbey", "b/bar"):
        for i in range(305):
            touch(f"miniplaces/data/images/train/{cat}/{i:08d}.jpg")
    for i in range(250):
        touch(f"miniplaces/data/images/val/{i:08d}.jpg")
    rows = photo_mix_split(tmp_path, progress=False)
    by = {}
    for r in rows:
        by.setdefault((r.split, r.name.split("/")[0]), []).append(r)
    assert len(by["train", "miniplaces"]) == 600  # 300 per category, not 305
    assert [r.name for r in by["heldout", "miniplaces"]] == [
        f"miniplaces/data/images/val/{i:08d}.jpg" for i in (0, 100, 200)
    ]
    assert [r.name for r in by["heldout", "clothing"]] == ["clothing/images/000.jpg"]  # every 50th of 12
    assert [r.name for r in by["heldout", "imagenet"]] == ["imagenet/n00000000_x.JPEG", "imagenet/n00000010_x.JPEG"]
    assert len(by["train", "imagenet"]) == 10 and MIX_SOURCES["imagenet"]["every"] == 10
    assert all(r.sha256 == sha256_of(tmp_path / r.name) for r in rows if not r.name.startswith("sample:"))
    assert {r.name for r in by["heldout", "sample:china"] + by["heldout", "sample:flower"]} == {
        "sample:china",
        "sample:flower",
    }
    import shutil

    shutil.rmtree(tmp_path / "food")
    with pytest.raises(ValueError, match="food: missing"):
        photo_mix_split(tmp_path, progress=False)


def test_the_games_photos_are_small_copies_of_held_out_photos_each_documented_with_its_source():
    """data/photos/game: 22 clothing photos the photo mix holds out (CC0), 320 px on the long side, under
    1.5 MB in all; data/README.md names each one's source in the split with the original's SHA-256."""
    import re

    from colorlab.resources import data_dir, split_path
    from colorlab.splits import game_images, game_photo_items, read_split

    files = sorted((data_dir() / "photos" / "game").iterdir())
    assert len(files) == 22 and all(f.suffix == ".jpg" for f in files)
    assert sum(f.stat().st_size for f in files) < 1.5e6
    heldout = {r.name: r.sha256 for r in read_split(split_path("photo-mix.csv")) if r.split == "heldout"}
    readme = (data_dir() / "README.md").read_text(encoding="utf-8")
    for f in files:
        (source, sha) = re.search(rf"\| `{f.name}` \| `([^`]+)` \| `([0-9a-f]{{64}})` \|", readme).groups()
        assert source.startswith("clothing/images/" + f.stem.removeprefix("clothing-")), f.name
        assert heldout[source] == sha, f"{f.name}: {source} is not a held-out photo with that checksum"
        with Image.open(f) as img:
            assert img.format == "JPEG" and max(img.size) == 320, f.name
    photos = game_images()
    assert list(photos) == list(game_photo_items()) and len(photos) == 24
    assert {"china", "flower"} <= set(photos)
    assert not any(is_grayscale(p) for p in photos.values())
