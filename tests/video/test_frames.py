"""Frames leave as JPEG no larger than max_size_px, a JPEG that fits untouched; file and V4L2 sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.video.jpeg import fit_jpeg, image_size
from runtime.video.locate import open_source
from runtime.video.sources import FileSource, SourceGone
from runtime.video.v4l2 import V4l2Source, find_camera
from tests.video.images import image_bytes, write_image


def test_a_jpeg_that_fits_goes_as_it_is() -> None:
    jpeg = image_bytes(640, 480)
    assert fit_jpeg(jpeg, 1024) is jpeg


def test_a_larger_frame_is_scaled_to_max_size_on_its_long_side() -> None:
    scaled = fit_jpeg(image_bytes(1920, 1080), 1024)
    assert scaled.startswith(b"\xff\xd8")
    assert image_size(scaled) == (1024, 576)


def test_a_png_is_re_encoded_as_jpeg() -> None:
    png = image_bytes(300, 200, "PNG")
    assert image_size(png) == (300, 200)
    jpeg = fit_jpeg(png, 1024)
    assert jpeg.startswith(b"\xff\xd8") and image_size(jpeg) == (300, 200)


def test_a_folder_is_cycled_in_name_order(tmp_path: Path) -> None:
    for name, width in (("b.jpg", 200), ("a.jpg", 100), ("c.png", 300)):
        write_image(tmp_path / name, width, 50, "PNG" if name.endswith("png") else "JPEG")
    (tmp_path / "notes.txt").write_text("not an image")
    source = FileSource(tmp_path)
    source.open()
    assert [image_size(source.read())[0] for _ in range(4)] == [100, 200, 300, 100]


def test_a_missing_file_is_a_source_that_is_gone(tmp_path: Path) -> None:
    source = open_source("file:shelf.jpg", tmp_path)
    assert source.name == f"file:{tmp_path / 'shelf.jpg'}"
    with pytest.raises(SourceGone):
        source.open()


def test_a_camera_is_found_by_a_name_substring(tmp_path: Path) -> None:
    for node, name in (("video0", "bcm2835-codec-decode"), ("video2", "HD Pro Webcam C920"), ("video3", "C920 meta")):
        (tmp_path / node).mkdir()
        (tmp_path / node / "name").write_text(name + "\n")
    assert find_camera("webcam", tmp_path) == Path("/dev/video2")
    assert find_camera("v4l2:/dev/video7", tmp_path) == Path("/dev/video7")
    with pytest.raises(SourceGone, match="no camera whose name contains 'logitech'"):
        find_camera("logitech", tmp_path)


def test_a_v4l2_camera_that_is_not_there_is_gone(tmp_path: Path) -> None:
    # No camera exists on the machines this runs on: capture itself is untested here (docs/video.md).
    with pytest.raises(SourceGone, match="no such camera"):
        V4l2Source("v4l2:/dev/video99", tmp_path).open()


def test_a_camera_is_asked_for_a_size_that_passes_through() -> None:
    from runtime.video.v4l2 import capture_size

    assert capture_size(1024) == (1024, 576)
    assert capture_size(640) == (640, 360)
