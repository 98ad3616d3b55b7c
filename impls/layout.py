"""Every layout conversion between frameworks, in one documented place.

Canonical (torchvision, PyTorch) layouts:
- conv kernels OIHW (out, in/groups, kh, kw); activations NCHW;
- dense kernels (out, in); a dense layer after a flatten takes the (C, H, W) map
  flattened in (C, H, W) order (AlexNet's FC1: 256x6x6).

NHWC frameworks (Keras and JAX here) use HWIO conv kernels and flatten maps in (H, W, C)
order, so the columns of a dense kernel fed by a flatten are permuted; forgetting that
permutation gives a network that runs and is wrong (tests check it is caught). Dense
kernels are (in, out) in Keras and kept (out, in) in JAX (contracting x with the kernel's
axis 1). A layout converts one tensor given its impls.params.TensorSpec.
"""

from __future__ import annotations

import numpy as np


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


def fc1_chw_to_hwc(weight: np.ndarray, chw: tuple[int, int, int]) -> np.ndarray:
    """A dense kernel (out, C*H*W) -> (out, H*W*C): the same function for an NHWC flatten."""
    c, h, w = chw
    out = weight.shape[0]
    return np.ascontiguousarray(weight.reshape(out, c, h, w).transpose(0, 2, 3, 1).reshape(out, -1))


def fc1_hwc_to_chw(weight: np.ndarray, chw: tuple[int, int, int]) -> np.ndarray:
    c, h, w = chw
    out = weight.shape[0]
    return np.ascontiguousarray(weight.reshape(out, h, w, c).transpose(0, 3, 1, 2).reshape(out, -1))


class CanonicalLayout:
    """A framework that stores tensors as torch does (torch itself): contiguous copies only
    (a channels_last kernel's numpy view is OHWI-strided)."""

    def to_native(self, spec, value: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(value)

    def to_canonical(self, spec, value: np.ndarray) -> np.ndarray:
        return np.array(value, order="C", copy=True)


class NHWCLayout:
    """How an NHWC framework stores each canonical tensor: conv kernels HWIO, the columns
    of a dense kernel fed by a flatten in (H, W, C) order, dense kernels (in, out) if
    `dense_in_out` else (out, in), vectors as they are. The conversions are looked up when
    called (tests swap one out to prove that a missing flatten permutation is caught)."""

    def __init__(self, dense_in_out: bool) -> None:
        self.dense_in_out = dense_in_out

    def to_native(self, spec, value: np.ndarray) -> np.ndarray:
        if spec.kind == "conv":
            return oihw_to_hwio(value)
        if spec.kind == "dense":
            if spec.flattened_from is not None:
                value = fc1_chw_to_hwc(value, spec.flattened_from)
            return dense_to_io(value) if self.dense_in_out else np.ascontiguousarray(value)
        return np.ascontiguousarray(value)

    def to_canonical(self, spec, value: np.ndarray) -> np.ndarray:
        value = np.asarray(value)
        if spec.kind == "conv":
            return hwio_to_oihw(value)
        if spec.kind == "dense":
            if self.dense_in_out:
                value = io_to_dense(value)
            if spec.flattened_from is not None:
                return fc1_hwc_to_chw(value, spec.flattened_from)
        return np.array(value, order="C", copy=True)


def adaptive_pool_matrix(in_size: int, out_size: int, dtype=np.float64) -> np.ndarray:
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
