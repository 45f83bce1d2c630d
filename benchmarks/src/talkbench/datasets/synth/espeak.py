"""Speech synthesis with eSpeak NG through ctypes on the library shipped by ``espeakng-loader``.

The library runs in synchronous mode with phoneme events switched on
(``espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, <data path>, espeakINITIALIZE_PHONEME_EVENTS)``); the
synthesis callback receives the 16-bit samples and, with them, ``espeak_EVENT`` records whose
``sample`` field is the exact output sample at which each word and phoneme starts. Those are the
corpus's phone alignments. The library is a process-wide singleton, guarded by a lock.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import numpy as np

__all__ = ["EspeakEvent", "SynthResult", "espeak_sample_rate", "synthesize"]

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 0x01
_SSML = 0x10
_EV_LIST_TERMINATED, _EV_WORD, _EV_END, _EV_PHONEME = 0, 1, 5, 7
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    # espeak_EVENT in speak_lib.h
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class EspeakEvent:
    """A word (``kind="word"``, ``label`` = its 1-based number) or phoneme (eSpeak mnemonic) event."""

    kind: str
    label: str
    sample: int


@dataclass
class SynthResult:
    """Synthesised waveform (``float32`` in [-1, 1] at :attr:`sample_rate`) and its events."""

    audio: np.ndarray
    sample_rate: int
    events: list[EspeakEvent]


class _Engine:
    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        data = espeakng_loader.get_data_path().encode()
        rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT
        )
        if rate <= 0:
            raise RuntimeError(f"eSpeak NG failed to initialise (data at {data.decode()}, returned {rate})")
        self.sample_rate = int(rate)
        self._chunks: list[np.ndarray] = []
        self._events: list[EspeakEvent] = []
        self._callback = _Callback(self._on_synth)
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lock = threading.Lock()

    def _on_synth(self, wav: ctypes._Pointer, n: int, events: ctypes._Pointer) -> int:
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EV_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EV_PHONEME:
                label = bytes(ev.id.string).split(b"\0", 1)[0].decode("utf-8", "replace")
                self._events.append(EspeakEvent("phoneme", label, int(ev.sample)))
            elif ev.type == _EV_WORD:
                self._events.append(EspeakEvent("word", str(ev.id.number), int(ev.sample)))
            elif ev.type == _EV_END:
                self._events.append(EspeakEvent("end", "", int(ev.sample)))
            i += 1
        return 0

    def synth(
        self, text: str, voice: str, rate: int, pitch: int, pitch_range: int, ssml: bool, seed: int
    ) -> SynthResult:
        with self.lock:
            self.lib.espeak_ng_SetRandSeed(int(seed))
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"eSpeak NG has no voice {voice!r}")
            for param, value in (
                (_PARAM_RATE, rate),
                (_PARAM_PITCH, pitch),
                (_PARAM_RANGE, pitch_range),
                (_PARAM_VOLUME, 100),
            ):
                self.lib.espeak_SetParameter(param, int(value), 0)
            self._chunks, self._events = [], []
            buf = ctypes.create_string_buffer(text.encode("utf-8"))
            flags = _CHARS_UTF8 | (_SSML if ssml else 0)
            err = self.lib.espeak_Synth(buf, len(buf), 0, _POS_CHARACTER, 0, flags, None, None)
            self.lib.espeak_Synchronize()
            if err != 0:
                raise RuntimeError(f"eSpeak NG synthesis failed (error {err}) for text {text!r}")
            if not self._chunks:
                raise RuntimeError(f"eSpeak NG produced no audio for text {text!r}")
            audio = np.concatenate(self._chunks).astype(np.float32) / 32768.0
            return SynthResult(audio=audio, sample_rate=self.sample_rate, events=list(self._events))


_ENGINE: _Engine | None = None
_ENGINE_LOCK = threading.Lock()


def _engine() -> _Engine:
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _Engine()
        return _ENGINE


def espeak_sample_rate() -> int:
    """Output rate of the eSpeak NG library (22050 Hz for the shipped voices)."""
    return _engine().sample_rate


def synthesize(
    text: str,
    voice: str = "en-us",
    rate: int = 160,
    pitch: int = 50,
    pitch_range: int = 50,
    ssml: bool = False,
    seed: int = 0,
) -> SynthResult:
    """Synthesise ``text`` (plain, or SSML when ``ssml``) with eSpeak NG.

    Args:
        voice: voice name, optionally with a variant (``"en-us+m3"``, ``"en-us+f2"``).
        rate: words per minute (80–450). pitch / pitch_range: 0–100.
        seed: seed of the library's noise generator (``espeak_ng_SetRandSeed``), set before synthesis.

    The waveform generator also carries state from the previous utterance of the process (see
    :mod:`talkbench.datasets.synth.corpus`), so equal inputs give equal output only after an equal
    history of calls.
    """
    return _engine().synth(text, voice, rate, pitch, pitch_range, ssml, seed)
