"""Differentiable mesh rendering in pure PyTorch."""

from ._version import __version__
from .backends import Pytorch3dRasterizer, TorchRasterizer, pytorch3d_available
from .blending import BlendParams, composite, contour_coverage, edge_neighbours
from .cameras import Camera, OrthographicCamera, PerspectiveCamera
from .fragments import Fragments, RasterSettings, blur_radius_for_pixels
from .lights import DirectionalLights
from .normals import face_normals, vertex_normals
from .renderer import MeshRenderer, get_rasterizer
from .shaders import (
    DepthShader,
    LambertShader,
    PhongShader,
    ShadingInputs,
    SoftSilhouetteShader,
    interpolate_vertex_attributes,
)

__all__ = [
    "BlendParams",
    "Camera",
    "DepthShader",
    "DirectionalLights",
    "Fragments",
    "LambertShader",
    "MeshRenderer",
    "OrthographicCamera",
    "PerspectiveCamera",
    "PhongShader",
    "Pytorch3dRasterizer",
    "RasterSettings",
    "ShadingInputs",
    "SoftSilhouetteShader",
    "TorchRasterizer",
    "__version__",
    "blur_radius_for_pixels",
    "composite",
    "contour_coverage",
    "edge_neighbours",
    "face_normals",
    "get_rasterizer",
    "interpolate_vertex_attributes",
    "pytorch3d_available",
    "vertex_normals",
]
