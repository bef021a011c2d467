"""Segmentation models, each in its own file, written to be read against the lecture's figures."""
from .autoencoder import DenoisingAutoencoder  # noqa: F401
from .deeplab import ASPP, DeepLabV3Plus, SeparableConv2d  # noqa: F401
from .fcn import FCN  # noqa: F401
from .keypoint import KeypointNet, decode_heatmaps, render_heatmaps  # noqa: F401
from .segnet import SegNet  # noqa: F401
from .unet import UNet  # noqa: F401

MODELS = {"unet": UNet, "fcn": FCN, "segnet": SegNet, "deeplab": DeepLabV3Plus}
