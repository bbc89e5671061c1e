"""Everything Qwen3: the ``qwen3.asr`` (:mod:`.asr`) and ``qwen3.forced_aligner`` (:mod:`.aligner`) stages, checkpoint
loading (:mod:`.loading`) and original-layout conversion (:mod:`.convert`, :mod:`.layout`), prompts and token ids
(:mod:`.templates`, :mod:`.tokens`), output parsing (:mod:`.output`), decoding guards (:mod:`.guards`), the models'
languages (:mod:`.languages`) and tiny random-weight checkpoints for tests (:mod:`.tiny`). Submodules import
torch/transformers lazily; importing this package stays light."""
