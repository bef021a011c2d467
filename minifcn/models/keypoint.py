"""Keypoint localisation by heatmap regression (as in Tompson et al., 2014; Newell et al., 2016).

Instead of regressing (row, col) numbers directly, the network outputs one *heatmap* per
keypoint, trained (with MSE) towards a Gaussian bump centred on the true position; the
prediction is decoded as the heatmap's argmax. This keeps the problem fully convolutional:
every pixel answers "how close am I to keypoint k?", which convolutions are good at.
"""
from __future__ import annotations

from ..heatmaps import decode_heatmaps  # noqa: F401  (positions from heatmaps)
from ..heatmaps import keypoint_heatmaps as render_heatmaps  # noqa: F401  (Gaussian targets)
from .unet import UNet


class KeypointNet(UNet):
    """A U-Net whose output channels are one heatmap per keypoint (train with ``F.mse_loss``
    against ``render_heatmaps``; read positions with ``decode_heatmaps``)."""

    def __init__(self, in_channels: int = 3, num_keypoints: int = 4, base_channels: int = 16, depth: int = 3):
        super().__init__(in_channels, num_keypoints, base_channels, depth)
        self.num_keypoints = num_keypoints
