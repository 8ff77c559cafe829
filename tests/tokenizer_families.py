"""The tokenizer families the label tests run on, trained offline in milliseconds with `tokenizers`.

Each reports offsets its own way, which is what the alignment must survive:
- `llama`: Llama-2/Mistral layout (Metaspace "▁" prepended to the first word, byte fallback
  for characters outside the vocabulary, newlines included); a word's offsets cover its
  leading space ("▁Ron" is " Ron").
- `gpt2`: GPT-2/SmolLM byte-level BPE without a prefix space and untrimmed offsets ("ĠRon"
  is " Ron").
- `toy`: the toy model's own tokenizer (byte-level with a prefix space, trimmed offsets: "ĠRon"
  is "Ron", a lone "Ġ" is an empty span).
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from unlearn.tokenization import train_bpe_tokenizer


def llama_style(texts: Sequence[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Trained on words split at spaces (SentencePiece never merges across one), run unsplit as
    Llama-2's tokenizer.json is; newlines stay out of the vocabulary and fall back to bytes."""
    bytes_ = [f"<0x{i:02X}>" for i in range(256)]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size + len(bytes_), special_tokens=["<unk>", "<s>", "</s>", *bytes_], show_progress=False
    )
    tokenizer.train_from_iterator([text.replace("\n", " ") for text in texts], trainer=trainer)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="</s>")


def gpt2_style(texts: Sequence[str], vocab_size: int) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<|im_start|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<|im_start|>", eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )


def toy_style(texts: Sequence[str], vocab_size: int) -> PreTrainedTokenizerFast:
    return train_bpe_tokenizer(texts, vocab_size=vocab_size, min_frequency=2, model_max_length=4096)


BUILDERS = {"llama": llama_style, "gpt2": gpt2_style, "toy": toy_style}
FAMILIES = tuple(BUILDERS)


def tokenizer(family: str, texts: Sequence[str], vocab_size: int = 400) -> PreTrainedTokenizerFast:
    return BUILDERS[family](texts, vocab_size)
