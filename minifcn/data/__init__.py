"""Data for segmentation: synthetic sets, folder data sets, batching and augmentation.

Everything here lives on the host as NumPy arrays (images float32 (N, C, H, W) in [0, 1],
masks int64 (N, H, W)); the training loop moves each batch to the device.
"""
from .augment import Compose, crop_item, random_crop, random_flip, random_rot90, rot90
from .augment import elastic_field, random_elastic, warp
from .cells import SyntheticCells
from .folder import (DEFAULT_PALETTE, DataError, FolderDataset, decide_ignore_index, load_label_map,
                     load_palette, load_palette_and_void, read_image, read_mask, read_split_file,
                     save_image_png, save_mask_png, write_example_folder)
from .loader import ArrayDataset, DataLoader, Subset, random_split
from .synthetic import SHAPES, Shape, SyntheticDenoising, SyntheticKeypoints, SyntheticShapes
from .synthetic import SyntheticSizes
from ..heatmaps import keypoint_heatmaps

__all__ = [
    "SHAPES", "Shape", "SyntheticShapes", "SyntheticKeypoints", "SyntheticDenoising",
    "keypoint_heatmaps",
    "SyntheticSizes",
    "DataError", "FolderDataset", "decide_ignore_index", "load_label_map", "load_palette_and_void",
    "read_split_file", "DEFAULT_PALETTE", "load_palette", "read_image", "read_mask",
    "save_image_png", "save_mask_png", "write_example_folder",
    "ArrayDataset", "DataLoader", "Subset", "random_split",
    "Compose", "crop_item", "random_flip", "random_rot90", "random_crop", "rot90",
    "SyntheticCells", "elastic_field", "random_elastic", "warp",
]
