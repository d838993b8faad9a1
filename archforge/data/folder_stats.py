"""What a folder of class sub-folders says about itself: class count, channels, image size.

`data=image_folder` leaves `num_classes`, `channels` and `image_size` null by default, meaning
"read from the data": the classes are the sub-folders, the channels follow the images' modes
(all grey: 1, any colour: 3) and the size follows the images' own sizes (one square size up to
`MAX_NATIVE`: native; otherwise the median longer side, capped at `MAX_NATIVE`). Only image
headers are read (Pillow opens lazily), and a folder's answer is cached until a class folder
changes, so a search composing many trials reads it once per process.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from archforge.data.image_files import open_image, regular_files

# Pillow modes of single-channel images; any other mode (RGB, RGBA, P, CMYK...) is colour.
GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
# Larger images are resized to ImageNet's 224: native training at 500x500 costs 5x the
# compute of 224 for photos that ImageNet-style networks are built for.
MAX_NATIVE = 224
SMALL_GREY = 32  # grey images this small look like digits or text: mirror images differ


@dataclass(frozen=True)
class FolderStats:
    """Class folders and the modes and sizes of the images under them."""

    root: Path
    classes: tuple[str, ...]
    images: int  # files Pillow could identify
    colour: int  # of them, images in a colour mode
    sizes: tuple[tuple[tuple[int, int], int], ...]  # ((width, height), count), most common first

    @property
    def channels(self) -> int:
        return 3 if self.colour else 1

    def size(self) -> tuple[int, str]:
        """(side, the rule that chose it)."""
        if not self.sizes:
            return MAX_NATIVE, f"no readable image: resized to {MAX_NATIVE}"
        (width, height), _ = self.sizes[0]
        if len(self.sizes) == 1 and width == height:
            if width <= MAX_NATIVE:
                return width, "native"
            return MAX_NATIVE, (f"the images are {width}x{height}: resized to {MAX_NATIVE} "
                                f"(images over {MAX_NATIVE} pixels are; data.image_size={width} "
                                "keeps them native)")
        longer = sorted(s for (w, h), n in self.sizes for s in [max(w, h)] * n)
        median = longer[len(longer) // 2]
        side = min(median, MAX_NATIVE)
        smallest = min(self.sizes, key=lambda item: item[0][0] * item[0][1])[0]
        largest = max(self.sizes, key=lambda item: item[0][0] * item[0][1])[0]
        kinds = "one size, not square" if len(self.sizes) == 1 else \
            f"{len(self.sizes)} sizes from {_wh(smallest)} to {_wh(largest)}"
        capped = f", capped at {MAX_NATIVE}" if median > MAX_NATIVE else ""
        return side, (f"the images have {kinds}: stretched to {side}x{side}, the median of "
                      f"their longer sides{capped}; data.image_size sets another size")

    def colour_words(self) -> str:
        if not self.colour:
            return "grey"
        if self.colour == self.images:
            return "colour"
        return f"{self.colour} of {self.images} images in colour, the rest grey: read as colour"


def _wh(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def folder_stats(root: Path, classes: list[str]) -> FolderStats:
    """Stats of the images under `root/<class>/`, cached until a class folder changes."""
    stamp = tuple(_mtime(root / name) for name in classes)
    return _stats(root, tuple(classes), stamp)


def list_files(folder: Path) -> list[Path]:
    """Every visible regular file under `folder`, recursively, in a stable order; FIFOs,
    devices and sockets are left out with one warning naming them (image_files.py)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        # Hidden files (.DS_Store, editor swap files) are not images anyone meant to add.
        found.extend(Path(dirpath) / f for f in sorted(filenames) if not f.startswith("."))
    return regular_files(found)


def _mtime(folder: Path) -> int:
    try:
        return folder.stat().st_mtime_ns
    except OSError:
        return 0


@functools.lru_cache(maxsize=16)
def _stats(root: Path, classes: tuple[str, ...], stamp: tuple[int, ...]) -> FolderStats:
    sizes: Counter[tuple[int, int]] = Counter()
    images = colour = 0
    for name in classes:
        if not (root / name).is_dir():
            continue
        for path in list_files(root / name):
            try:
                with open_image(path) as image:  # the header only; no pixels decoded
                    mode, size = image.mode, image.size
            except Exception:  # unreadable: setup skips it with a warning naming it
                continue
            images += 1
            colour += mode not in GREY_MODES
            sizes[size] += 1
    return FolderStats(root, classes, images, colour, tuple(sizes.most_common()))


def describe(stats: FolderStats, read: list[str], channels: int, side: int, rule: str,
             hflip: bool) -> list[str]:
    """The lines `archforge train` prints before training: what was read and how, and a
    warning where horizontal flips would turn digits or letters into other symbols."""
    small_grey = not stats.colour and bool(stats.sizes) and \
        max(max(w, h) for (w, h), _ in stats.sizes) <= SMALL_GREY
    lines = []
    if read:
        how = "native" if rule == "native" else "resized"
        flips = hflip and not small_grey
        lines.append(
            f"image folder {stats.root}: {len(stats.classes)} classes, "
            f"{channels}x{side}x{side} {how} ({', '.join('data.' + k for k in read)} read from "
            f"the images: {stats.colour_words()}"
            + ("" if rule == "native" else f"; {rule}") + ")"
            + ("; horizontal flips on (data.augment.hflip=false turns them off)" if flips else "")
        )
    if hflip and small_grey:
        lines.append(
            "warning: horizontal flips are on (data.augment.hflip, the recipe for photos) for "
            "small grey images; where a mirror image is another class (digits, letters) turn "
            "them off with data.augment.hflip=false"
        )
    return lines
