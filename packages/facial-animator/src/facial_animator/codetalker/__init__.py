"""CodeTalker (Xing et al., CVPR 2023): stage-1 motion VQ-autoencoder and stage-2 code predictor."""

from .config import VQConfig
from .quantizer import QuantizerOutput, VectorQuantizer
from .vqvae import VQAutoEncoder, VQOutput, stage1_loss

__all__ = ["QuantizerOutput", "VQAutoEncoder", "VQConfig", "VQOutput", "VectorQuantizer", "stage1_loss"]
