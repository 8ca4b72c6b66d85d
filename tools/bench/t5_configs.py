"""t5zero's built-in architectures (src/models/architectures.cpp) as transformers T5Configs, for
the PyTorch twins of `t5zero bench` (random init: the same sizes, other random numbers)."""

import os

import transformers

# name: (vocab_size, d_model, d_kv, num_heads, d_ff, num_layers, num_decoder_layers,
#        feed_forward_proj, tie_word_embeddings)
BUILTIN = {
    # The FLAN-T5 sizes of google/flan-t5-*/config.json.
    "flan-t5-small": (32128, 512, 64, 6, 1024, 8, 8, "gated-gelu", False),
    "flan-t5-base": (32128, 768, 64, 12, 2048, 12, 12, "gated-gelu", False),
    "flan-t5-large": (32128, 1024, 64, 16, 2816, 24, 24, "gated-gelu", False),
    "flan-t5-xl": (32128, 2048, 64, 32, 5120, 24, 24, "gated-gelu", False),
    "flan-t5-xxl": (32128, 4096, 64, 64, 10240, 24, 24, "gated-gelu", False),
    # Test sizes.
    "t5-tiny": (32128, 64, 16, 4, 128, 2, 2, "gated-gelu", False),
    "t5-tiny-relu": (32128, 64, 16, 4, 128, 2, 2, "relu", True),
    "t5-micro": (256, 32, 6, 4, 48, 2, 3, "gated-gelu", False),
}


def make_config(model_id):
    """The T5Config of a built-in name, or of a model folder's config.json."""
    if model_id in BUILTIN:
        vocab, d_model, d_kv, heads, d_ff, layers, decoder_layers, ffn, tied = BUILTIN[model_id]
        return transformers.T5Config(
            vocab_size=vocab, d_model=d_model, d_kv=d_kv, d_ff=d_ff, num_layers=layers,
            num_decoder_layers=decoder_layers, num_heads=heads, feed_forward_proj=ffn,
            tie_word_embeddings=tied, dropout_rate=0.1, decoder_start_token_id=0,
            pad_token_id=0, eos_token_id=1)
    if os.path.isdir(model_id):
        return transformers.T5Config.from_pretrained(model_id)
    raise SystemExit(f"--model_id: not a built-in architecture ({', '.join(BUILTIN)}) "
                     f"nor a folder: {model_id}")
