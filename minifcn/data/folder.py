"""A segmentation data set from a folder of image files, checked on load.

Layout::

    root/images/NAME.png | NAME.jpg | NAME.jpeg     the pictures (grey, RGB; alpha is dropped)
    root/masks/NAME.png                              the label map of each picture
    root/palette.json  or  root/palette.txt          optional: colour of each class

A mask is either a single-channel PNG whose pixel values are the class indices 0..K-1
(8-bit grey "L", or a paletted "P" PNG whose indices are the classes), or a colour PNG
whose colours are mapped to classes by a palette: class ``k`` has colour ``palette[k]``.

Palette formats: ``palette.json`` is a JSON list of ``[r, g, b]`` triples (0..255), one per
class, e.g. ``[[0, 0, 0], [255, 0, 0], [0, 255, 0]]``; ``palette.txt`` has one class per
line, ``r g b`` (spaces or commas), with ``#`` starting a comment.

Every problem is reported by file name as a :class:`DataError` (a ``ValueError``): a
picture without a mask or a mask without a picture, a mask whose size differs from its
picture's, a label outside ``0..num_classes-1`` or a colour missing from the palette, a file
that cannot be read. Images come out float32 (C, H, W) scaled to [0, 1]; masks int64 (H, W).
Files are read with Pillow (installed with matplotlib).
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
    source = "palette"
    if isinstance(palette, (str, os.PathLike)):
        path, source = Path(palette), str(palette)
        try:
            text = path.read_text()
            if path.suffix == ".json":
                palette = json.loads(text)
            else:
                rows = (line.split("#")[0].replace(",", " ").split() for line in text.splitlines())
                palette = [[int(v) for v in row] for row in rows if row]
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read palette file {path}: {e}") from None
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
    return colours


def _colour_codes(rgb: np.ndarray) -> np.ndarray:
    """One integer per colour, ``r * 65536 + g * 256 + b``, for exact matching."""
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def colours_to_labels(rgb: np.ndarray, palette: np.ndarray, name: str = "mask") -> np.ndarray:
    """Map an (H, W, 3) colour mask to class labels (H, W) int64 through ``palette``."""
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
    return (arr.astype(np.float32) / np.float32(scale)).astype(np.float32)


def read_mask(path, palette: np.ndarray | None = None) -> np.ndarray:
    """A mask PNG as int64 labels (H, W): pixel values of a single-channel PNG, or colours
    mapped through ``palette``."""
    path = Path(path)
    img = _open(path, "mask")
    if palette is not None:
        return colours_to_labels(np.asarray(img.convert("RGB")), palette, str(path))
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

class FolderDataset:
    """Images and masks from ``root/images`` and ``root/masks`` (see the module docstring).

    All files are read and checked when the data set is made and kept in memory. Item ``i``
    is ``(image float32 (C, H, W), mask int64 (H, W))``, files sorted by name. With
    ``image_size`` (an int or (H, W)) every pair is resized, images bilinearly and masks by
    nearest neighbour. ``num_classes`` defaults to the palette's length, or else the largest
    label + 1. Grey images are repeated to 3 channels when other images are in colour.
    """

    def __init__(self, root, num_classes: int | None = None, palette=None, image_size=None):
        self.root = Path(root)
        self.image_size = _size_arg(image_size)
        images_dir, masks_dir = self.root / "images", self.root / "masks"
        for d in (images_dir, masks_dir):
            if not d.is_dir():
                raise DataError(f"{d} is not a folder: a folder data set needs "
                                f"{images_dir}/NAME.png|jpg and {masks_dir}/NAME.png")
        if palette is None:
            found = [self.root / f for f in ("palette.json", "palette.txt") if (self.root / f).is_file()]
            palette = found[0] if found else None
        self.palette = None if palette is None else load_palette(palette)
        self.files = self._pair_files(images_dir, masks_dir)
        if num_classes is not None:
            num_classes = check_int("num_classes", num_classes, 1)
        if num_classes is None and self.palette is not None:
            num_classes = len(self.palette)

        images, masks = [], []
        for image_path, mask_path in self.files:
            image, mask = read_image(image_path), read_mask(mask_path, self.palette)
            if image.shape[1:] != mask.shape:
                raise DataError(f"size mismatch: image {image_path} is {_hw(image.shape[1:])} "
                                f"but mask {mask_path} is {_hw(mask.shape)}")
            if num_classes is not None and mask.size and (mask.max() >= num_classes or mask.min() < 0):
                bad = int(mask.max() if mask.max() >= num_classes else mask.min())
                raise DataError(f"mask {mask_path} holds label {bad}, outside the class range "
                                f"0..{num_classes - 1} (num_classes={num_classes})")
            if self.image_size is not None:
                image, mask = _resize_image(image, self.image_size), _resize_mask(mask, self.image_size)
            images.append(image)
            masks.append(mask)
        if len({im.shape[0] for im in images}) > 1:   # mixed grey and colour: make all RGB
            images = [np.repeat(im, 3, axis=0) if im.shape[0] == 1 else im for im in images]
        self.images, self.masks = images, masks
        self.num_classes = int(num_classes if num_classes is not None
                               else max(int(m.max()) for m in masks) + 1)
        self._arrays: tuple | None = None

    @staticmethod
    def _pair_files(images_dir: Path, masks_dir: Path) -> list[tuple[Path, Path]]:
        images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        masks = sorted(p for p in masks_dir.iterdir() if p.suffix.lower() == ".png")
        by_stem: dict[str, Path] = {}
        for p in images:
            if p.stem in by_stem:
                raise DataError(f"two images share the name {p.stem!r}: {by_stem[p.stem]} and {p}")
            by_stem[p.stem] = p
        mask_by_stem = {p.stem: p for p in masks}
        problems = [f"image {by_stem[s]} has no mask {masks_dir / (s + '.png')}"
                    for s in sorted(by_stem) if s not in mask_by_stem]
        problems += [f"mask {mask_by_stem[s]} has no image {images_dir / s}.png|jpg|jpeg"
                     for s in sorted(mask_by_stem) if s not in by_stem]
        if problems:
            more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
            raise DataError("missing partner: " + "; ".join(problems[:10]) + more)
        if not images:
            raise DataError(f"no images (*.png, *.jpg, *.jpeg) in {images_dir}")
        return [(by_stem[s], mask_by_stem[s]) for s in sorted(by_stem)]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i) -> tuple[np.ndarray, np.ndarray]:
        return self.images[i], self.masks[i]

    @property
    def channels(self) -> int:
        return self.images[0].shape[0]

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
                                f"pass image_size=(H, W) to resize them all")
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
