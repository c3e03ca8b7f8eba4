"""Build an openai-whisper checkpoint from CTranslate2 Whisper weights, so `whisper` runs offline.

openai-whisper loads `{"dims": ..., "model_state_dict": ...}` saved by torch; the
packaged weights are CTranslate2. Both hold the same tensors: this reads model.bin
(CTranslate2's binary format, version 6), splits the fused attention projections
and renames everything to openai-whisper's names.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import tempfile
from pathlib import Path
from typing import Any

from assistant.errors import DependencyMissing, ModelError
from assistant.speech.weights import ct2_model, is_packaged

log = logging.getLogger(__name__)

# CTranslate2 DataType enum order (include/ctranslate2/types.h)
_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
_LAYER = re.compile(r"^(encoder|decoder)/layer_(\d+)/(.+)$")
# CTranslate2 sub-path -> openai-whisper sub-path, per block
_BLOCK = {
    "self_attention/layer_norm": "attn_ln", "self_attention/linear_1": "attn.out",
    "attention/layer_norm": "cross_attn_ln", "attention/linear_0": "cross_attn.query",
    "attention/linear_2": "cross_attn.out",
    "ffn/layer_norm": "mlp_ln", "ffn/linear_0": "mlp.0", "ffn/linear_1": "mlp.2",
}
_TOP = {
    "encoder/conv1": "encoder.conv1", "encoder/conv2": "encoder.conv2",
    "encoder/layer_norm": "encoder.ln_post", "decoder/layer_norm": "decoder.ln",
    "decoder/embeddings": "decoder.token_embedding",
}
_PARAM = {"gamma": "weight", "beta": "bias", "weight": "weight", "bias": "bias"}


def default_checkpoint(model: str, data_dir: Path) -> Path:
    return data_dir / "models" / f"whisper-{model}-openai.pt"


def export_whisper(model: str, data_dir: Path, out: Path | None = None) -> Path:
    """Write the openai-whisper checkpoint of a packaged model or CTranslate2 folder; return its path."""
    torch = _torch()
    folder = Path(ct2_model(model, data_dir))
    if not (folder / "model.bin").is_file():
        raise ModelError(f"'{model}' is not a packaged Whisper model or a CTranslate2 folder")
    out = out or default_checkpoint(model if is_packaged(model) else Path(model).name, data_dir)
    log.info("reading CTranslate2 weights from %s", folder)
    checkpoint = to_openai(read_ct2(folder / "model.bin"))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}-", dir=out.parent)
    os.close(fd)
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, out)  # atomic: a reader never sees half a checkpoint
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("wrote the openai-whisper checkpoint %s", out)
    return out


def read_ct2(path: Path) -> dict[str, Any]:
    """Every variable of a CTranslate2 model.bin: tensors as torch tensors, scalars as numbers."""
    torch = _torch()
    buf = bytearray(path.read_bytes())  # writable, as torch.frombuffer wants
    view = _Reader(buf)
    version = view.unpack("<I")
    if version != 6:
        raise ModelError(f"{path} uses CTranslate2 binary format {version}; only version 6 is read")
    view.string()  # spec name
    view.unpack("<I")  # spec revision
    variables: dict[str, Any] = {}
    for _ in range(view.unpack("<I")):
        name = view.string()
        shape = [view.unpack("<I") for _ in range(view.unpack("<B"))]
        dtype = getattr(torch, _DTYPES[view.unpack("<B")])
        nbytes = view.unpack("<I")
        tensor = torch.frombuffer(buf, dtype=dtype, count=nbytes // dtype.itemsize, offset=view.at)
        view.at += nbytes
        variables[name] = tensor.reshape(shape).clone() if shape else tensor.item()
    for _ in range(view.unpack("<I")):
        alias, target = view.string(), view.string()
        variables[alias] = variables[target]
    return variables


class _Reader:
    def __init__(self, buf: bytearray) -> None:
        self.buf, self.at = buf, 0

    def unpack(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.buf, self.at)
        self.at += struct.calcsize(fmt)
        return int(value)

    def string(self) -> str:
        size = self.unpack("<H")  # counts the trailing NUL
        text = bytes(self.buf[self.at:self.at + size - 1]).decode()
        self.at += size
        return text


def to_openai(variables: dict[str, Any]) -> dict[str, Any]:
    """{"dims", "model_state_dict"} as whisper.load_model reads them."""
    if any(name.endswith("weight_scale") for name in variables):
        raise ModelError("int8-quantized CTranslate2 weights cannot be exported; use a float16 conversion")
    state: dict[str, Any] = {
        "encoder.positional_embedding": variables["encoder/position_encodings/encodings"],
        "decoder.positional_embedding": variables["decoder/position_encodings/encodings"],
    }
    for name, value in variables.items():
        if not hasattr(value, "shape") or "position_encodings" in name or name == "decoder/projection/weight":
            continue  # scalars are options; the projection is tied to the token embedding
        state.update(_rename(name, value))
    return {"dims": _dims(variables), "model_state_dict": state}


def _rename(name: str, value: Any) -> dict[str, Any]:
    prefix, _, param = name.rpartition("/")
    param = _PARAM[param]
    if prefix in _TOP:
        return {f"{_TOP[prefix]}.{param}": value}
    match = _LAYER.match(prefix)
    if not match:
        raise ModelError(f"unexpected variable in the Whisper weights: {name}")
    side, index, sub = match.groups()
    block = f"{side}.blocks.{index}"
    if sub in _BLOCK:
        return {f"{block}.{_BLOCK[sub]}.{param}": value}
    if sub == "self_attention/linear_0":  # fused query, key, value
        return _split(f"{block}.attn", ("query", "key", "value"), param, value)
    if sub == "attention/linear_1":  # fused cross-attention key, value
        return _split(f"{block}.cross_attn", ("key", "value"), param, value)
    raise ModelError(f"unexpected variable in the Whisper weights: {name}")


def _split(module: str, names: tuple[str, ...], param: str, value: Any) -> dict[str, Any]:
    pieces = dict(zip(names, value.chunk(len(names), dim=0), strict=True))
    # Whisper's key projection has no bias; CTranslate2 stores zeros in its place.
    if param == "bias" and pieces.pop("key").abs().max() > 0:
        raise ModelError(f"{module}: a non-zero key bias cannot be expressed in openai-whisper")
    return {f"{module}.{n}.{param}": p.contiguous() for n, p in pieces.items()}


def _dims(v: dict[str, Any]) -> dict[str, int]:
    def layers(side: str) -> int:
        return 1 + max(int(m.group(2)) for n in v if (m := _LAYER.match(n.rpartition("/")[0]))
                       and m.group(1) == side)

    conv1, tokens = v["encoder/conv1/weight"], v["decoder/embeddings/weight"]
    return {
        "n_mels": conv1.shape[1],
        "n_audio_ctx": v["encoder/position_encodings/encodings"].shape[0],
        "n_audio_state": conv1.shape[0],
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": layers("encoder"),
        "n_vocab": tokens.shape[0],
        "n_text_ctx": v["decoder/position_encodings/encodings"].shape[0],
        "n_text_state": tokens.shape[1],
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": layers("decoder"),
    }


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise DependencyMissing("torch", "torch") from None
    return torch
