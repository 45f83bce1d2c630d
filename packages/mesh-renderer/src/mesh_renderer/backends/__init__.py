"""Rasterizer backends: the pure-PyTorch one (default) and an optional pytorch3d adapter."""

from .pytorch3d_backend import Pytorch3dRasterizer, pytorch3d_available
from .torch_backend import TorchRasterizer

__all__ = ["Pytorch3dRasterizer", "TorchRasterizer", "pytorch3d_available"]
