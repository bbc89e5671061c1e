"""Chat templates (Jinja) that render Qwen3-ASR prompts exactly as the released models expect.

ASR: ``<|im_start|>system\\n{context}<|im_end|>\\n<|im_start|>user\\n<|audio_start|><|audio_pad|><|audio_end|>``
``<|im_end|>\\n<|im_start|>assistant\\n`` — the system turn is always present, empty without context. An assistant
message is rendered verbatim (with ``continue_final_message`` it prefills ``language English<asr_text>``).
Forced aligner: the audio placeholder, then every word followed by two ``<timestamp>`` slots, no chat turns.
"""

from __future__ import annotations

_TEXT_OF = (
    "{%- macro text_of(content) -%}"
    "{%- if content is string -%}{{ content }}"
    "{%- else -%}{%- for part in content -%}"
    "{%- if part.type == 'text' and part.text is defined -%}{{ part.text }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{%- endmacro -%}"
)
_AUDIO_OF = (
    "{%- macro audio_of(content) -%}"
    "{%- if content is not string -%}{%- for part in content -%}"
    "{%- if part.type == 'audio' or 'audio' in part or 'audio_url' in part -%}"
    "<|audio_start|><|audio_pad|><|audio_end|>{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{%- endmacro -%}"
)

#: Native (``-hf``) ASR template, also accepted by the original package's processor.
ASR_CHAT_TEMPLATE = (
    _TEXT_OF + _AUDIO_OF
    + "{{- '<|im_start|>system\\n' -}}"
    "{%- for m in messages if m.role == 'system' -%}{{- text_of(m.content) -}}{%- endfor -%}"
    "{{- '<|im_end|>\\n<|im_start|>user\\n' -}}"
    "{%- for m in messages -%}{{- audio_of(m.content) -}}{%- endfor -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- for m in messages if m.role == 'assistant' -%}"
    "{{- '<|im_start|>assistant\\n' -}}{% generation %}{{- text_of(m.content) + '<|im_end|>\\n' -}}{% endgeneration %}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

#: Native forced-aligner template.
ALIGNER_CHAT_TEMPLATE = (
    "{%- set ns = namespace(audio='', words=[]) -%}"
    "{%- for m in messages if m.content is not string -%}{%- for part in m.content -%}"
    "{%- if part.type == 'audio' or 'audio' in part or 'audio_url' in part -%}"
    "{%- set ns.audio = ns.audio + '<|audio_start|><|audio_pad|><|audio_end|>' -%}"
    "{%- elif part.type == 'text' and part.text is defined -%}{%- set ns.words = ns.words + [part.text] -%}"
    "{%- endif -%}"
    "{%- endfor -%}{%- endfor -%}"
    "{{ ns.audio }}{%- for word in ns.words -%}{{ word }}<timestamp><timestamp>{%- endfor -%}"
)
