"""auto-avsr style lip readers (video, audio, audio-visual) with tokenizers, the joint
CTC/attention loss, decoding, official-checkpoint loading and training utilities."""

from ._version import __version__
from .checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from .config import MODALITIES, OFFICIAL_ODIM, PRESETS, LipReaderConfig, Modality, get_preset
from .decoding import Hypothesis, beam_search, decode_texts, greedy_ctc, greedy_decode, transcribe
from .input_spec import InputSpec, resample_time
from .loss import (
    BLANK_ID,
    IGNORE_ID,
    LipReadingLoss,
    add_sos_eos,
    ctc_loss,
    label_smoothing_loss,
)
from .model import EncoderOutput, LipReader
from .state_dict import (
    LoadReport,
    detect_layout,
    load_official_checkpoint,
    load_official_state_dict,
    to_main_layout,
    to_native,
)
from .tokenizers import CharTokenizer, SentencePieceTokenizer, Tokenizer
from .training import Batch, WarmupCosine, fit, make_optimizer, make_scheduler, train_step

__all__ = [
    "BLANK_ID",
    "IGNORE_ID",
    "MODALITIES",
    "OFFICIAL_ODIM",
    "PRESETS",
    "Batch",
    "CharTokenizer",
    "CheckpointError",
    "EncoderOutput",
    "Hypothesis",
    "InputSpec",
    "LipReader",
    "LipReaderConfig",
    "LipReadingLoss",
    "LoadReport",
    "Modality",
    "SentencePieceTokenizer",
    "Tokenizer",
    "WarmupCosine",
    "__version__",
    "add_sos_eos",
    "beam_search",
    "ctc_loss",
    "decode_texts",
    "detect_layout",
    "fit",
    "get_preset",
    "greedy_ctc",
    "greedy_decode",
    "label_smoothing_loss",
    "load_checkpoint",
    "load_official_checkpoint",
    "load_official_state_dict",
    "make_optimizer",
    "make_scheduler",
    "read_checkpoint",
    "resample_time",
    "save_checkpoint",
    "to_main_layout",
    "to_native",
    "train_step",
    "transcribe",
]
