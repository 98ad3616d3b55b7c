"""Every layout conversion between frameworks, in one documented place.

Canonical (torchvision, PyTorch) layouts:
- conv kernels OIHW (out, in/groups, kh, kw); activations NCHW;
- dense kernels (out, in); FC1's input is the 256x6x6 map flattened in (C, H, W) order.

NHWC frameworks (Keras and JAX here) use HWIO conv kernels and flatten the 6x6x256 map in
(H, W, C) order, so FC1's columns are permuted; forgetting that permutation gives a network
that runs and is wrong (tests check it is caught). Dense kernels are (in, out) in Keras and
kept (out, in) in JAX (contracting x with the kernel's axis 1). `NHWCLayout` maps each
canonical tensor name to its conversion, for both.
"""

from __future__ import annotations

import numpy as np

from impls.config import POOLED_SIZE, AlexNetConfig, layer_specs


def oihw_to_hwio(kernel: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(kernel.transpose(2, 3, 1, 0))


def hwio_to_oihw(kernel: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def transposed(matrix: np.ndarray, rows: int = 128) -> np.ndarray:
    """A contiguous copy of `matrix.T`, made `rows` source rows at a time: numpy's one-shot
    copy of a transposed view walks one side with a large stride and is 2-3x slower on FC1
    (4096 x 9216; ~1 s in float64), which every weight exchange of an NHWC framework pays."""
    out = np.empty(matrix.shape[::-1], dtype=matrix.dtype)
    for start in range(0, matrix.shape[0], rows):
        out[:, start : start + rows] = matrix[start : start + rows].T
    return out


def dense_to_io(weight: np.ndarray) -> np.ndarray:
    """(out, in) -> (in, out)."""
    return transposed(weight)


def io_to_dense(kernel: np.ndarray) -> np.ndarray:
    return transposed(kernel)


def fc1_chw_to_hwc(weight: np.ndarray, channels: int = 256, size: int = POOLED_SIZE) -> np.ndarray:
    """FC1 (out, C*H*W) -> (out, H*W*C): the same function for an NHWC flatten."""
    out = weight.shape[0]
    return np.ascontiguousarray(weight.reshape(out, channels, size, size).transpose(0, 2, 3, 1).reshape(out, -1))


def fc1_hwc_to_chw(weight: np.ndarray, channels: int = 256, size: int = POOLED_SIZE) -> np.ndarray:
    out = weight.shape[0]
    return np.ascontiguousarray(weight.reshape(out, size, size, channels).transpose(0, 3, 1, 2).reshape(out, -1))


class NHWCLayout:
    """How an NHWC framework stores each canonical tensor: conv kernels HWIO, FC1's columns
    in (H, W, C) order, dense kernels (in, out) if `dense_in_out` else (out, in), biases as
    they are. The conversions are looked up when called (tests swap one out to prove that
    a missing FC1 permutation is caught)."""

    def __init__(self, config: AlexNetConfig, dense_in_out: bool) -> None:
        convs, denses = layer_specs(config)
        self.dense_in_out = dense_in_out
        self.kind = {f"{spec.name}.weight": "conv" for spec in convs}
        for position, spec in enumerate(denses):
            self.kind[f"{spec.name}.weight"] = "fc1" if position == 0 else "dense"

    def to_native(self, name: str, value: np.ndarray) -> np.ndarray:
        kind = self.kind.get(name)
        if kind == "conv":
            return oihw_to_hwio(value)
        if kind == "fc1":
            value = fc1_chw_to_hwc(value)
        if kind in ("fc1", "dense") and self.dense_in_out:
            return dense_to_io(value)
        return np.ascontiguousarray(value)

    def to_canonical(self, name: str, value: np.ndarray) -> np.ndarray:
        kind = self.kind.get(name)
        if kind == "conv":
            return hwio_to_oihw(value)
        if kind in ("fc1", "dense") and self.dense_in_out:
            value = io_to_dense(value)
        if kind == "fc1":
            return fc1_hwc_to_chw(value)
        return np.array(value, copy=True)


def adaptive_pool_matrix(in_size: int, out_size: int = POOLED_SIZE, dtype=np.float64) -> np.ndarray:
    """(out_size, in_size) averaging matrix equal to torch's adaptive average pooling.

    Bin i covers [floor(i*in/out), ceil((i+1)*in/out)); bins may overlap and, when the
    input is smaller than the output, repeat pixels. Pooling an NHWC map is then
    `einsum("oh,nhwc,pw->nopc", P_h, x, P_w)` for any input size: exact and portable.
    """
    matrix = np.zeros((out_size, in_size), dtype=dtype)
    for i in range(out_size):
        start = (i * in_size) // out_size
        end = -((-(i + 1) * in_size) // out_size)  # ceil
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix
