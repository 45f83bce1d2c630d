"""Differentiable mesh rendering in pure PyTorch."""

from ._version import __version__
from .backends import Pytorch3dRasterizer, TorchRasterizer, pytorch3d_available
from .backends._binning import OVERDRAW_BUDGET, RenderBudgetWarning
from .blending import BlendParams, composite, contour_coverage, edge_neighbours
from .cameras import Camera, OrthographicCamera, PerspectiveCamera
from .colormap import apply_colormap, colorbar_image
from .export import export_meshes
from .fragments import Fragments, RasterSettings, blur_radius_for_pixels
from .lights import DirectionalLights
from .mouth import (
    FIXED_CROPS,
    MouthCrop,
    locate_mouth,
    mouth_window_offsets,
    render_mouth_video,
    to_lipreader_input,
)
from .normals import face_normals, vertex_normals
from .preconditioning import LaplacianPreconditioner, uniform_laplacian
from .renderer import MeshRenderer, get_rasterizer
from .resample import resample_matrix, resampled_length, temporal_resample
from .shaders import (
    DepthShader,
    LambertShader,
    PhongShader,
    ShadingInputs,
    SoftSilhouetteShader,
    interpolate_vertex_attributes,
)
from .synthetic import lip_sheets
from .video import render_frames, render_video, write_video

__all__ = [
    "FIXED_CROPS",
    "OVERDRAW_BUDGET",
    "BlendParams",
    "Camera",
    "DepthShader",
    "DirectionalLights",
    "Fragments",
    "LambertShader",
    "LaplacianPreconditioner",
    "MeshRenderer",
    "MouthCrop",
    "OrthographicCamera",
    "PerspectiveCamera",
    "PhongShader",
    "Pytorch3dRasterizer",
    "RasterSettings",
    "RenderBudgetWarning",
    "ShadingInputs",
    "SoftSilhouetteShader",
    "TorchRasterizer",
    "__version__",
    "apply_colormap",
    "blur_radius_for_pixels",
    "colorbar_image",
    "composite",
    "contour_coverage",
    "edge_neighbours",
    "export_meshes",
    "face_normals",
    "get_rasterizer",
    "interpolate_vertex_attributes",
    "lip_sheets",
    "locate_mouth",
    "mouth_window_offsets",
    "pytorch3d_available",
    "render_frames",
    "render_mouth_video",
    "render_video",
    "resample_matrix",
    "resampled_length",
    "temporal_resample",
    "to_lipreader_input",
    "uniform_laplacian",
    "vertex_normals",
    "write_video",
]
