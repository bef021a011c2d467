"""Modules: layers that hold parameters, in the spirit of ``torch.nn``.

``functional`` holds the stateless, differentiable ops; ``nn`` wraps them in Modules that
own their parameters and settings (Chainer's "functions" vs "links"):

    from minifcn import nn
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
    print(nn.summary(model, (1, 3, 32, 32)))
"""
from . import init  # noqa: F401
from .layers import (AvgPool2d, BatchNorm2d, Conv2d, ConvTranspose2d, Dropout, Identity,  # noqa: F401
                     LeakyReLU, MaxPool2d, MaxUnpool2d, ModuleList, ReLU, Sequential, Sigmoid, Tanh,
                     Upsample)
from .module import LoadResult, Module, Parameter  # noqa: F401
from .summary import count_parameters, summary  # noqa: F401

__all__ = ["Module", "Parameter", "LoadResult", "Conv2d", "ConvTranspose2d", "BatchNorm2d", "ReLU",
           "LeakyReLU", "Sigmoid", "Tanh", "Dropout", "MaxPool2d", "MaxUnpool2d", "AvgPool2d",
           "Upsample", "Sequential", "ModuleList", "Identity", "init", "summary", "count_parameters"]
