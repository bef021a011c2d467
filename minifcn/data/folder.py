"""A segmentation data set from a folder of image files, checked on load.

Two layouts, detected from the folder's contents:

    root/images/NAME.png | NAME.jpg | NAME.jpeg     the pictures (grey, RGB; alpha is dropped)
    root/masks/NAME.png                              the label map of each picture
    root/palette.json  or  root/palette.txt          optional: colour of each class

    root/JPEGImages/NAME.jpg                         Pascal VOC's layout: pictures,
    root/SegmentationClass/NAME.png                  paletted PNGs of class indices (255: void),
    root/ImageSets/Segmentation/train.txt|val.txt    the split files (one NAME a line)

A *split* picks the names to load: ``split="val"`` reads ``ImageSets/Segmentation/val.txt``
(VOC layout) or ``root/val.txt`` (images/ + masks/ layout); ``split_file=PATH`` names any
such file. Without one, every picture with a mask is loaded (in the VOC layout pictures
without a mask are skipped: JPEGImages also holds the detection-only pictures).

A mask is either a single-channel PNG whose pixel values are the labels (8-bit grey "L",
a paletted "P" PNG whose indices are the labels, or a 16-bit "I;16" PNG, e.g. Cityscapes'
label ids), or a colour PNG whose colours are mapped to classes by a palette: class ``k``
has colour ``palette[k]``.

Palette formats: ``palette.json`` is a JSON list of ``[r, g, b]`` triples (0..255), one per
class, e.g. ``[[0, 0, 0], [255, 0, 0], [0, 255, 0]]``, or an object
``{"classes": [[r, g, b], ...], "void": [r, g, b]}`` that also names the void colour;
``palette.txt`` has one class per line, ``r g b`` (spaces or commas), ``#`` starting a
comment, and an optional line ``void r g b``.

A *label map* (``label_map=PATH``, a JSON object) turns raw mask values into classes before
anything else, e.g. Cityscapes' ids into train ids: ``{"7": 0, "8": 1, "26": 13, "*": "void"}``
(``"void"`` for the ignore label, ``"*"`` for every value not listed; without ``"*"`` an
unlisted value is an error naming the file).

**Void pixels and the ignore label** (``ignore_index``). Pixels marked void (unlabelled or
ambiguous: VOC's object borders are 255) count in no loss and no metric. How it is decided:

1. ``ignore_index=None``: no void label; every value must be a class.
2. ``ignore_index=V`` (an int): V is void; V must not be a class (V >= num_classes or V < 0).
3. ``ignore_index="auto"`` (the default): if no mask holds 255, there is no void label.
   If some do and ``num_classes`` is known (given, or the palette's length): 255 is void
   when ``num_classes <= 255``, a class otherwise. If ``num_classes`` is not known, 255 is
   void and ``num_classes`` = (largest other label) + 1, *unless* that leaves fewer than two
   classes (masks of only 0 and 255: a binary mask saved as 0/255, or void?) or the other
   labels reach 254 (255 could be the next class): those are refused as ambiguous, with
   what to pass instead.

Every problem is reported by file name as a :class:`DataError` (a ``ValueError``): a
picture without a mask or a mask without a picture, a name in the split file without its
files, a label that is neither a class nor the void label, a colour missing from the
palette, a raw value missing from the label map, a file that cannot be read. Everything is
read and checked before the data set exists: nothing is half-read. Images of different
sizes are kept as they are (``image_size`` resizes them all, if asked). Images come out
float32 (C, H, W) scaled to [0, 1]; masks int64 (H, W). Files are read with Pillow.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_open, write_text
from ..checks import check_int

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class DataError(ValueError):
    """A problem with a data file, reported with the file's name."""


# ---------------------------------------------------------------- palettes

def load_palette(palette) -> np.ndarray:
    """A palette as (K, 3) int64 colours: from a list of ``[r, g, b]`` or from a
    ``.json``/``.txt`` file (see the module docstring for the formats)."""
    return load_palette_and_void(palette)[0]


def load_palette_and_void(palette) -> tuple[np.ndarray, np.ndarray | None]:
    """(class colours (K, 3) int64, void colour (3,) or None) from a palette list, a dict
    ``{"classes": [...], "void": [r, g, b]}`` or a ``.json``/``.txt`` file."""
    source, void = "palette", None
    if isinstance(palette, (str, os.PathLike)):
        path, source = Path(palette), str(palette)
        try:
            text = path.read_text()
            if path.suffix == ".json":
                palette = json.loads(text)
            else:
                rows = [line.split("#")[0].replace(",", " ").split() for line in text.splitlines()]
                void = next(([int(v) for v in row[1:]] for row in rows if row and row[0].lower() == "void"), None)
                palette = [[int(v) for v in row] for row in rows if row and row[0].lower() != "void"]
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read palette file {path}: {e}") from None
    if isinstance(palette, dict):
        void, palette = palette.get("void"), palette.get("classes")
    try:
        colours = np.asarray(palette, dtype=np.int64)
    except (TypeError, ValueError):
        colours = np.zeros((0, 0))
    if colours.ndim != 2 or colours.shape[1] != 3 or len(colours) < 1 \
            or colours.min() < 0 or colours.max() > 255:
        raise DataError(f"{source} is not a valid palette: use a list of [r, g, b] triples "
                        f"with values 0..255, one per class, e.g. [[0, 0, 0], [255, 0, 0]]")
    codes = _colour_codes(colours)
    if len(np.unique(codes)) != len(codes):
        raise DataError(f"{source} gives the same colour to two classes: {colours.tolist()}")
    if void is not None:
        void = np.asarray(void, dtype=np.int64)
        if void.shape != (3,) or void.min() < 0 or void.max() > 255:
            raise DataError(f"{source}: the void colour {void.tolist()} is not an [r, g, b] triple of 0..255")
        if _colour_codes(void) in codes:
            raise DataError(f"{source}: the void colour {void.tolist()} is also a class colour")
    return colours, void


def _colour_codes(rgb: np.ndarray) -> np.ndarray:
    """One integer per colour, ``r * 65536 + g * 256 + b``, for exact matching."""
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def colours_to_labels(rgb: np.ndarray, palette: np.ndarray, name: str = "mask",
                      void: np.ndarray | None = None, void_label: int = 255) -> np.ndarray:
    """Map an (H, W, 3) colour mask to class labels (H, W) int64 through ``palette``; pixels
    of the ``void`` colour (if given) get ``void_label``."""
    if void is not None:
        is_void = _colour_codes(rgb) == _colour_codes(np.asarray(void))
        labels = colours_to_labels(np.where(is_void[..., None], palette[0], rgb), palette, name)
        return np.where(is_void, void_label, labels)
    codes, table = _colour_codes(rgb), _colour_codes(palette)
    order = np.argsort(table)
    pos = np.clip(np.searchsorted(table[order], codes), 0, len(table) - 1)
    found = table[order][pos] == codes
    if not found.all():
        r, c = np.argwhere(~found)[0]
        raise DataError(f"{name}: colour {rgb[r, c].tolist()} at (row {r}, col {c}) is not in "
                        f"the palette of {len(palette)} classes {palette.tolist()}")
    return order[pos].astype(np.int64)


# ---------------------------------------------------------------- reading files

def _open(path: Path, what: str):
    from PIL import Image
    try:
        img = Image.open(path)
        img.load()
    except Exception as e:   # Pillow raises many types for broken files
        raise DataError(f"cannot read {what} {path}: {type(e).__name__}: {e}") from None
    return img


def read_image(path) -> np.ndarray:
    """An image file as float32 (C, H, W) in [0, 1]: C = 1 for grey, 3 for colour."""
    img = _open(Path(path), "image")
    if img.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "F"):
        arr = np.asarray(img.convert("L") if img.mode in ("1", "LA") else img)[None]
    else:
        arr = np.asarray(img.convert("RGB")).transpose(2, 0, 1)
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0,
             np.dtype(np.int32): 65535.0}.get(arr.dtype, 1.0)
    out = arr.astype(np.float32)          # one float copy, divided in place (large images)
    out /= np.float32(scale)
    return out


def read_mask(path, palette: np.ndarray | None = None, void: np.ndarray | None = None,
              void_label: int = 255) -> np.ndarray:
    """A mask PNG as int64 labels (H, W): pixel values of a single-channel PNG (8- or 16-bit,
    or a paletted PNG's indices), or colours mapped through ``palette`` (``void`` colour ->
    ``void_label``)."""
    path = Path(path)
    img = _open(path, "mask")
    if palette is not None and img.mode != "P":
        return colours_to_labels(np.asarray(img.convert("RGB")), palette, str(path), void, void_label)
    if img.mode in ("1", "L", "P", "I", "I;16", "I;16B"):
        return np.asarray(img).astype(np.int64)
    if img.mode == "LA":
        return np.asarray(img)[..., 0].astype(np.int64)
    raise DataError(f"mask {path} is a {img.mode} colour image but no palette was given: "
                    "save masks as single-channel PNGs of class indices, or pass palette= "
                    "(or put palette.json / palette.txt in the data folder)")


def _resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (C, H, W) float32 to (C, *size) with Pillow, channel by channel."""
    from PIL import Image
    h, w = size
    return np.stack([np.asarray(Image.fromarray(ch).resize((w, h), Image.BILINEAR))
                     for ch in image]).astype(np.float32)


def _resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of labels (H, W): output pixel i takes input pixel
    ``floor((i + 0.5) * H / OH)``, so no new labels appear."""
    (h, w), (oh, ow) = mask.shape, size
    rows = np.minimum(((np.arange(oh) + 0.5) * h / oh).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(ow) + 0.5) * w / ow).astype(np.int64), w - 1)
    return mask[rows[:, None], cols[None, :]]


def _size_arg(image_size) -> tuple[int, int] | None:
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
            or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in image_size)):
        raise ValueError(f"image_size={image_size!r} is not valid; use None, an int or (H, W)")
    return int(image_size[0]), int(image_size[1])


# ---------------------------------------------------------------- the data set

def load_label_map(path) -> tuple[dict[int, int | None], int | None | str]:
    """A label map file (JSON object raw value -> class or "void"; "*" for the rest) as
    ({raw: class, or None for void}, the rest: a class, None for void, or "error")."""
    path = Path(path)
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read label map file {path}: {e}") from None
    if not isinstance(table, dict):
        raise DataError(f"label map {path} must be a JSON object, e.g. {{\"7\": 0, \"8\": 1, \"*\": \"void\"}}")
    out: dict[int, int | None] = {}
    rest: int | None | str = "error"
    for key, value in table.items():
        if value != "void" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise DataError(f"label map {path}: {key!r} -> {value!r} is not valid; map to a class >= 0 or \"void\"")
        value = None if value == "void" else value
        if key == "*":
            rest = value
            continue
        try:
            out[int(key)] = value
        except ValueError:
            raise DataError(f"label map {path}: key {key!r} is not a raw mask value (an integer) or \"*\"") from None
    return out, rest


def _apply_label_map(mask: np.ndarray, table: dict, rest, void_label: int, name: str) -> np.ndarray:
    """Raw values -> classes by one lookup table (void -> ``void_label``)."""
    top = int(max(mask.max(initial=0), max(table, default=0))) + 1
    lut = np.full(top, -1 if rest == "error" else (void_label if rest is None else rest), np.int64)
    for raw, cls in table.items():
        if raw >= 0:
            lut[raw] = void_label if cls is None else cls
    out = lut[mask]
    if rest == "error" and (out < 0).any():
        raw = int(mask[out < 0][0])
        raise DataError(f"mask {name} holds the value {raw}, which the label map does not list "
                        f"(add it, or a \"*\" entry for every other value)")
    return out


def decide_ignore_index(ignore_index, num_classes: int | None, labels: set[int]) -> tuple[int | None, int]:
    """(ignore index, number of classes) by the rule of the module docstring, from the labels
    that occur in the masks."""
    if ignore_index == "auto":
        if 255 not in labels:
            ignore_index = None
        elif num_classes is not None:
            ignore_index = 255 if num_classes <= 255 else None
        else:
            rest = labels - {255}
            top = max(rest, default=-1)
            if top < 1:
                raise DataError("the masks hold only the labels " + str(sorted(labels)) + ": is 255 the "
                                "foreground of a binary mask saved as 0/255, or void? Pass num_classes "
                                "(--classes 2 with a label map {\"255\": 1} for a 0/255 binary mask), or "
                                "ignore_index=None (--ignore-index none) to make 255 a class")
            if top >= 254:
                raise DataError("the masks hold labels up to 254 and 255: is 255 a class or void? Pass "
                                "num_classes (--classes) or ignore_index (--ignore-index 255 or none)")
            ignore_index = 255
    elif ignore_index is not None:
        ignore_index = check_int("ignore_index", ignore_index, -2**31)
    if num_classes is None:
        rest = labels - ({ignore_index} if ignore_index is not None else set())
        num_classes = max(rest, default=0) + 1
    if ignore_index is not None and 0 <= ignore_index < num_classes:
        raise DataError(f"ignore_index={ignore_index} is a class for num_classes={num_classes} "
                        f"(classes 0..{num_classes - 1}); use a label outside the classes, e.g. 255")
    return ignore_index, int(num_classes)


def _find_layout(root: Path) -> tuple[str, Path, Path]:
    """("folder" | "voc", images folder, masks folder)."""
    if (root / "images").is_dir() and (root / "masks").is_dir():
        return "folder", root / "images", root / "masks"
    if (root / "JPEGImages").is_dir() and (root / "SegmentationClass").is_dir():
        return "voc", root / "JPEGImages", root / "SegmentationClass"
    missing = next(d for d in (root / "images", root / "masks") if not d.is_dir())
    raise DataError(f"{missing} is not a folder: a folder data set needs {root / 'images'}/NAME.png|jpg and "
                    f"{root / 'masks'}/NAME.png, or the VOC layout {root / 'JPEGImages'}/ and "
                    f"{root / 'SegmentationClass'}/")


def read_split_file(path) -> list[str]:
    """The names (file stems) listed in a split file, one a line ('#' comments, blank lines skipped)."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise DataError(f"cannot read split file {path}: {e}") from None
    names = [line.split("#")[0].strip() for line in lines]
    names = [Path(n).stem if Path(n).suffix.lower() in IMAGE_SUFFIXES else n for n in names if n]
    if not names:
        raise DataError(f"split file {path} lists no names (one file name without suffix a line)")
    return names


class FolderDataset:
    """Images and masks from a data folder (see the module docstring for the layouts).

    All files are read and checked when the data set is made and kept in memory. Item ``i``
    is ``(image float32 (C, H, W), mask int64 (H, W))``, files sorted by name (or in the
    split file's order). Images keep their own sizes; with ``image_size`` (an int or (H, W))
    every pair is resized, images bilinearly and masks by nearest neighbour (void stays
    void). ``num_classes`` defaults to the palette's length, or else the largest label + 1
    (the void label left out). ``ignore_index`` is decided as the module docstring says and
    kept as ``self.ignore_index``. Grey images are repeated to 3 channels when other images
    are in colour.
    """

    def __init__(self, root, num_classes: int | None = None, palette=None, image_size=None,
                 ignore_index: int | str | None = "auto", split: str | None = None, split_file=None,
                 label_map=None):
        self.root = Path(root)
        self.image_size = _size_arg(image_size)
        self.layout, images_dir, masks_dir = _find_layout(self.root)
        if palette is None:
            found = [self.root / f for f in ("palette.json", "palette.txt") if (self.root / f).is_file()]
            palette = found[0] if found else None
        self.palette, self.void_colour = (None, None) if palette is None else load_palette_and_void(palette)
        if split is not None and split_file is None:
            split_file = (self.root / "ImageSets" / "Segmentation" / f"{split}.txt" if self.layout == "voc"
                          else self.root / f"{split}.txt")
            if not Path(split_file).is_file():
                raise DataError(f"split={split!r}: no split file {split_file}")
        names = read_split_file(split_file) if split_file is not None else None
        self.files = self._pair_files(images_dir, masks_dir, names, self.layout)
        if num_classes is not None:
            num_classes = check_int("num_classes", num_classes, 1)
        if num_classes is None and self.palette is not None:
            num_classes = len(self.palette)
        table = load_label_map(label_map) if label_map is not None else None
        # the label that a void colour or a label map's "void" becomes (the ignore label if one is named)
        void_label = 255 if ignore_index in ("auto", None) else int(ignore_index)

        images, masks, labels = [], [], set()
        for image_path, mask_path in self.files:
            image = read_image(image_path)
            mask = read_mask(mask_path, self.palette, self.void_colour, void_label)
            if table is not None:
                mask = _apply_label_map(mask, *table, void_label, str(mask_path))
            if image.shape[1:] != mask.shape:
                raise DataError(f"size mismatch: image {image_path} is {_hw(image.shape[1:])} "
                                f"but mask {mask_path} is {_hw(mask.shape)}")
            labels.update(int(v) for v in np.unique(mask))
            images.append(image)
            masks.append(mask)
        if self.void_colour is not None and ignore_index == "auto":
            ignore_index = 255
        self.ignore_index, self.num_classes = decide_ignore_index(ignore_index, num_classes, labels)
        K, ignore = self.num_classes, self.ignore_index
        for (image_path, mask_path), mask in zip(self.files, masks):
            bad = (mask < 0) | (mask >= K)
            if ignore is not None:
                bad &= mask != ignore
            if bad.any():
                also = (f" and is not the void label {ignore}" if ignore is not None else
                        " (no void label: pass ignore_index / --ignore-index to mark one)")
                raise DataError(f"mask {mask_path} holds label {int(mask[bad][0])}, outside the class range "
                                f"0..{K - 1} (num_classes={K}){also}")
        if self.image_size is not None:
            images = [_resize_image(im, self.image_size) for im in images]
            masks = [_resize_mask(m, self.image_size) for m in masks]
        if len({im.shape[0] for im in images}) > 1:   # mixed grey and colour: make all RGB
            images = [np.repeat(im, 3, axis=0) if im.shape[0] == 1 else im for im in images]
        self.images, self.masks = images, masks
        self._arrays: tuple | None = None

    @staticmethod
    def _pair_files(images_dir: Path, masks_dir: Path, names: list[str] | None = None,
                    layout: str = "folder") -> list[tuple[Path, Path]]:
        images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        masks = sorted(p for p in masks_dir.iterdir() if p.suffix.lower() == ".png")
        by_stem: dict[str, Path] = {}
        for p in images:
            if p.stem in by_stem:
                raise DataError(f"two images share the name {p.stem!r}: {by_stem[p.stem]} and {p}")
            by_stem[p.stem] = p
        mask_by_stem = {p.stem: p for p in masks}
        if names is not None:
            wanted = names
            problems = [f"{n}: no image {images_dir / n}.png|jpg|jpeg" for n in names if n not in by_stem]
            problems += [f"{n}: no mask {masks_dir / (n + '.png')}" for n in names if n not in mask_by_stem]
        else:
            # VOC: JPEGImages also holds pictures without segmentation masks; skip those
            wanted = sorted(s for s in by_stem if layout == "folder" or s in mask_by_stem)
            problems = [f"image {by_stem[s]} has no mask {masks_dir / (s + '.png')}"
                        for s in wanted if s not in mask_by_stem]
            problems += [f"mask {mask_by_stem[s]} has no image {images_dir / s}.png|jpg|jpeg"
                         for s in sorted(mask_by_stem) if s not in by_stem]
        if problems:
            more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
            raise DataError("missing partner: " + "; ".join(problems[:10]) + more)
        if not wanted:
            raise DataError(f"no images (*.png, *.jpg, *.jpeg) with masks in {images_dir}")
        return [(by_stem[s], mask_by_stem[s]) for s in wanted]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i) -> tuple[np.ndarray, np.ndarray]:
        return self.images[i], self.masks[i]

    @property
    def channels(self) -> int:
        return self.images[0].shape[0]

    @property
    def same_size(self) -> bool:
        """Whether every image has one size (so that they stack into arrays)."""
        return len({m.shape for m in self.masks}) == 1

    def sizes(self) -> list[tuple[int, int]]:
        """(H, W) of each image."""
        return [tuple(m.shape) for m in self.masks]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All pairs stacked: images (N, C, H, W), masks (N, H, W) (read-only); needs all
        images of one size (pass ``image_size`` otherwise)."""
        if self._arrays is None:
            sizes = {m.shape for m in self.masks}
            if len(sizes) > 1:
                a, b = sorted(sizes)[:2]
                fa = next(f for f, m in zip(self.files, self.masks) if m.shape == a)[0]
                fb = next(f for f, m in zip(self.files, self.masks) if m.shape == b)[0]
                raise DataError(f"images differ in size ({fa} is {_hw(a)}, {fb} is {_hw(b)}); "
                                f"pass image_size=(H, W) to resize them all, or take crops")
            self._arrays = (np.stack(self.images), np.stack(self.masks))
            for a in self._arrays:
                a.flags.writeable = False
        return self._arrays


def _hw(shape) -> str:
    return f"{shape[0]}x{shape[1]} (HxW)"


# ---------------------------------------------------------------- writing files

def _atomic_save(img, path, format: str = "PNG", **options) -> Path:
    """Save a Pillow image to ``path`` through a temporary file and ``os.replace``, so the
    file is either the old one or the complete new one, never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as f:
        img.save(f, format=format, **options)
    return path


def save_mask_png(path, mask, palette=None) -> Path:
    """Write labels (H, W) as a single-channel 8-bit PNG of class indices (labels 0..255),
    or, with ``palette``, as an RGB PNG of the class colours. Atomic."""
    from PIL import Image
    mask = np.asarray(mask)
    if mask.ndim != 2 or not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f"mask of shape {mask.shape} and dtype {mask.dtype} is not valid; "
                         "use integer labels (H, W)")
    top = len(palette) - 1 if palette is not None else 255
    if mask.size and (mask.min() < 0 or mask.max() > top):
        raise ValueError(f"mask holds labels {int(mask.min())}..{int(mask.max())}; "
                         f"a mask PNG can hold 0..{top}")
    if palette is not None:
        colours = load_palette(palette).astype(np.uint8)
        return _atomic_save(Image.fromarray(colours[mask]), path)
    return _atomic_save(Image.fromarray(mask.astype(np.uint8)), path)


def save_image_png(path, image, format: str = "PNG") -> Path:
    """Write a float image (C, H, W) or (H, W) in [0, 1] as an 8-bit grey or RGB file
    (PNG, or ``format="JPEG"`` at quality 95). Atomic."""
    from PIL import Image
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3 and image.shape[0] in (1, 3):
        image = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    elif image.ndim != 2:
        raise ValueError(f"image of shape {image.shape} is not valid; use (C, H, W) with "
                         "C in (1, 3), or (H, W)")
    pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    options = {"quality": 95} if format.upper() in ("JPEG", "JPG") else {}
    return _atomic_save(Image.fromarray(pixels), path, format, **options)


def write_example_folder(root, n: int = 8, seed: int = 0, image_size: int = 64,
                         num_classes: int = 4, palette=None, image_format: str = "png",
                         **shape_options) -> Path:
    """Write ``n`` :class:`~minifcn.data.synthetic.SyntheticShapes` pairs as a folder data
    set: ``root/images/example_0000.png`` and ``root/masks/example_0000.png``, ...

    ``palette`` (a list of ``[r, g, b]``, or ``True`` for :data:`DEFAULT_PALETTE`) writes
    colour masks and ``root/palette.json``; ``image_format`` is ``"png"`` or ``"jpg"``.
    Returns ``Path(root)``.
    """
    from .synthetic import SyntheticShapes
    if image_format not in ("png", "jpg"):
        raise ValueError(f"image_format={image_format!r} is not valid; use 'png' or 'jpg'")
    root = Path(root)
    if palette is True:
        palette = DEFAULT_PALETTE[:num_classes]
    if palette is not None:
        palette = load_palette(palette)
        root.mkdir(parents=True, exist_ok=True)
        write_text(root / "palette.json", json.dumps(palette.tolist()))
    images, masks = SyntheticShapes(n, image_size=image_size, num_classes=num_classes,
                                    seed=seed, **shape_options).arrays()
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    for i, (image, mask) in enumerate(zip(images, masks)):
        save_image_png(root / "images" / f"example_{i:04d}.{image_format}", image,
                       "PNG" if image_format == "png" else "JPEG")
        save_mask_png(root / "masks" / f"example_{i:04d}.png", mask, palette)
    return root


DEFAULT_PALETTE = [[0, 0, 0], [230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25],
                   [145, 30, 180], [70, 240, 240], [245, 130, 48]]
"""Colours for up to 8 classes (background black), used by ``write_example_folder``."""
