"""The Qwen3-ASR token table: special and added tokens at their released ids (ASR and aligner share it)."""

from __future__ import annotations

from typing import Any

FIRST_ADDED_ID = 151643
ENDOFTEXT_ID = 151643
IM_START_ID = 151644
IM_END_ID = 151645
AUDIO_START_ID = 151669
AUDIO_END_ID = 151670
AUDIO_PAD_ID = 151676
ASR_TEXT_ID = 151704
TIMESTAMP_ID = 151705
LAST_ADDED_ID = TIMESTAMP_ID
EOS_IDS: tuple[int, int] = (ENDOFTEXT_ID, IM_END_ID)
ASR_VOCAB_SIZE = 151936
ALIGNER_VOCAB_SIZE = 152064

_NOT_SPECIAL = frozenset({*range(151657, 151669), 151675, ASR_TEXT_ID, TIMESTAMP_ID})
_NAMES = (
    ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
     "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
     "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
     "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>",
     "<think>", "</think>", "<|audio_start|>", "<|audio_end|>", "<tts_pad>", "<tts_text_bos>", "<tts_text_eod>",
     "<tts_text_bos_single>", "<non_speech>", "<|audio_pad|>"]
    + [f"<blank{i}>" for i in range(1, 28)]
    + ["<asr_text>", "<timestamp>"]
)
#: (id, content, special) of every added token, in id order.
ADDED_TOKENS: tuple[tuple[int, str, bool], ...] = tuple(
    (FIRST_ADDED_ID + i, name, FIRST_ADDED_ID + i not in _NOT_SPECIAL) for i, name in enumerate(_NAMES))

_ADDITIONAL_SPECIAL = ("<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
                       "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
                       "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<|audio_start|>", "<|audio_end|>",
                       "<tts_pad>", "<tts_text_bos>", "<tts_text_bos_single>", "<|audio_pad|>")
_MULTIMODAL = {"audio_bos_token": "<|audio_start|>", "audio_eos_token": "<|audio_end|>",
               "audio_token": "<|audio_pad|>", "image_token": "<|image_pad|>", "video_token": "<|video_pad|>",
               "vision_bos_token": "<|vision_start|>", "vision_eos_token": "<|vision_end|>"}


def original_tokenizer_config() -> dict[str, Any]:
    """``tokenizer_config.json`` as the released (original-layout) repositories ship it."""
    return {
        "add_bos_token": False, "add_prefix_space": False,
        "added_tokens_decoder": {
            str(token_id): {"content": content, "lstrip": False, "normalized": False, "rstrip": False,
                            "single_word": False, "special": special}
            for token_id, content, special in ADDED_TOKENS},
        "additional_special_tokens": list(_ADDITIONAL_SPECIAL), **_MULTIMODAL,
        "bos_token": None, "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>", "errors": "replace",
        "extra_special_tokens": dict(_MULTIMODAL), "model_max_length": 131072, "pad_token": "<|endoftext|>",
        "processor_class": "Qwen3ASRProcessor", "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
