"""Differentiable operations (stateless), in the spirit of ``torch.nn.functional``.

Each op is a ``Function`` with forward and backward side by side, next to the friendly
function that checks arguments and calls it. The ``*_simple`` forms compute the same ops
composed from autograd primitives (im2col + matmul, im2col + max, ...): the readable
version of each, tested equal to the fused one.
"""
from .basic import (abs, add, astype, cat, clip, div, exp, getitem, log, matmul, max, mean, min,  # noqa: F401
                    mul, neg, pad, pow, reshape, sqrt, stack, sub, sum, transpose, where)
from .activation import dropout, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh  # noqa: F401
from .loss import (binary_cross_entropy_with_logits, cross_entropy, cross_entropy_simple,  # noqa: F401
                   dice_loss, focal_loss, mse_loss)
from .labels import class_weights, one_hot  # noqa: F401
from .norm import batch_norm, batch_norm_simple  # noqa: F401
from .pool import adaptive_avg_pool2d, avg_pool2d, avg_pool2d_simple, max_pool2d, max_pool2d_simple  # noqa: F401
from .unpool import max_unpool2d, unpool_bed_of_nails, unpool_nearest  # noqa: F401
from .upsample import bilinear_kernel, interpolate  # noqa: F401
from .conv import conv2d, conv2d_simple, conv_transpose2d, conv_transpose2d_simple  # noqa: F401
