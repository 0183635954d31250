"""Decoding any image mode to RGB, bad files, draft-mode decoding and the pre-resized cache."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from features.images import BadImage, build_cache, list_images, load_cache, load_resized, open_rgb, to_rgb


def _photo(w=120, h=90) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], -1).astype(np.uint8)


def test_cmyk_jpeg_converts_to_the_right_colours_not_inverted(tmp_path):
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0] = 220  # a red image
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    with Image.open(tmp_path / "c.jpg") as img:
        assert img.mode == "CMYK"
        sliced = np.asarray(img)[..., :3]  # the naive mistake
    out = np.asarray(open_rgb(tmp_path / "c.jpg"))
    assert abs(int(out[..., 0].mean()) - 220) < 12 and out[..., 1:].mean() < 15
    assert abs(int(sliced[..., 0].mean()) - 220) > 100  # slicing bands gets the colours wrong


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "1", "I;16"])
def test_every_mode_becomes_rgb(mode):
    img = Image.fromarray(_photo())
    img = img.convert("I;16") if mode == "I;16" else img.convert(mode)
    out = to_rgb(img)
    assert out.mode == "RGB" and out.size == img.size


def test_alpha_is_composited_on_white():
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    out = np.asarray(to_rgb(Image.fromarray(rgba, "RGBA")))
    assert (out == 255).all()


def test_truncated_and_garbage_files_raise_bad_image_naming_the_file(tmp_path):
    Image.fromarray(_photo()).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.jpg").write_bytes(b"not an image at all")
    for name in ("cut.jpg", "junk.jpg"):
        with pytest.raises(BadImage, match=name):
            open_rgb(tmp_path / name)


def test_draft_mode_decodes_close_to_a_full_decode(tmp_path):
    Image.fromarray(_photo(800, 600)).save(tmp_path / "big.jpg", quality=95)
    fast = load_resized(tmp_path / "big.jpg", 64).astype(float)
    with Image.open(tmp_path / "big.jpg") as img:
        full = img.convert("RGB").resize((85, 64), Image.Resampling.BILINEAR, reducing_gap=None)
    full = np.asarray(full)[:, 10:74].astype(float)
    assert fast.shape == (64, 64, 3)
    assert np.abs(fast - full).mean() < 4


def test_cache_skips_bad_images_or_keeps_rows_aligned(tmp_path):
    for i in range(3):
        Image.fromarray(_photo(50 + 10 * i, 40)).save(tmp_path / f"{i}.jpg")
    (tmp_path / "9.jpg").write_bytes(b"broken")
    files = list_images(tmp_path)
    assert [f.name for f in files] == ["0.jpg", "1.jpg", "2.jpg", "9.jpg"]  # numeric order
    meta = build_cache(files, 32, tmp_path / "cache.npy", workers=2, progress=False)
    arr, saved = load_cache(tmp_path / "cache.npy")
    assert arr.shape == (3, 32, 32, 3) and arr.dtype == np.uint8
    assert len(meta["bad"]) == 1 and "9.jpg" in meta["bad"][0] and saved["files"] == [str(f) for f in files[:3]]
    build_cache(files, 32, tmp_path / "kept.npy", keep_bad=True, progress=False)
    kept, _ = load_cache(tmp_path / "kept.npy")
    assert kept.shape[0] == 4 and (kept[3] == 0).all() and kept[0].any()


def test_cache_rows_after_a_bad_image_in_the_middle_move_up_in_order(tmp_path):
    from features.images import load_resized

    for i in range(4):
        Image.fromarray(_photo(40 + 10 * i, 60 - 5 * i)).save(tmp_path / f"{i}.jpg")
    (tmp_path / "1.jpg").write_bytes(b"broken")
    files = list_images(tmp_path)
    meta = build_cache(files, 16, tmp_path / "cache.npy", workers=2, progress=False)
    arr, _ = load_cache(tmp_path / "cache.npy")
    assert meta["files"] == [str(files[i]) for i in (0, 2, 3)] and arr.shape == (3, 16, 16, 3)
    for row, i in enumerate((0, 2, 3)):
        np.testing.assert_array_equal(arr[row], load_resized(files[i], 16))
    assert sorted(p.name for p in tmp_path.iterdir() if not p.suffix == ".jpg") == ["cache.json", "cache.npy"]


def test_a_cache_the_disk_cannot_hold_is_refused_before_any_image_is_decoded(tmp_path, monkeypatch):
    """Histopathologic's 277k tiles at the default 291 px need about 70 GB: said before decoding starts, with the
    fix, and nothing left behind; an old cache of that name stays as it was."""
    import collections

    import features.images as images

    for i in range(3):
        Image.fromarray(_photo(50, 40)).save(tmp_path / f"{i}.jpg")
    (tmp_path / "cache.npy").write_bytes(b"the old cache")
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(images.shutil, "disk_usage", lambda p: usage(10**6, 10**6 - 3000, 3000))
    decoded = []
    monkeypatch.setattr(images, "load_resized", lambda f, s: decoded.append(f))
    with pytest.raises(ValueError, match=r"3 images at 32 px need 0\.0 GB, and its disk has 0\.0 GB free: .*sizes="):
        build_cache(list_images(tmp_path), 32, tmp_path / "cache.npy", progress=False, load=images.load_resized)
    assert not decoded and (tmp_path / "cache.npy").read_bytes() == b"the old cache"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.jpg", "1.jpg", "2.jpg", "cache.npy"]
    monkeypatch.undo()  # the disk as it is: built
    assert build_cache(list_images(tmp_path), 32, tmp_path / "cache.npy", progress=False)["files"]
