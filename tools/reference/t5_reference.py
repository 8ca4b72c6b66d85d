"""What transformers computes for a tiny random T5: shared by make_t5_fixtures.py and check_grads.py."""

import json
import os

import torch
from safetensors.torch import save_file
from transformers import T5Config, T5ForConditionalGeneration

EMBEDDING_ALIASES = ["shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]


def layer_norm_names(model):
    return [name for name, _ in model.named_parameters() if name.endswith("layer_norm.weight")]


def make_model(config_kwargs, seed):
    """A T5ForConditionalGeneration initialised by transformers' _init_weights from `seed`.

    Layer-norm weights are then moved away from 1.0, so a model that ignores them cannot pass.
    """
    config = T5Config(dropout_rate=0.1, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
                      **config_kwargs)
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("layer_norm.weight"):
                param.add_(0.1 * torch.randn_like(param))
    model.eval()  # dropout off
    return model


def random_batch(vocab_size, batch_size, enc_len, dec_len, label_pad, seed):
    """Token ids in [2, vocab) ending in </s> (1); row r > 0 is shorter by 3r tokens (padded with
    0, attention_mask 0), and its last `label_pad`·r labels are -100."""
    g = torch.Generator().manual_seed(seed)
    input_ids, attention_mask, labels = [], [], []
    for r in range(batch_size):
        n = max(2, enc_len - 3 * r)
        ids = torch.randint(2, vocab_size, (n - 1,), generator=g).tolist() + [1]
        input_ids.append(ids + [0] * (enc_len - n))
        attention_mask.append([1] * n + [0] * (enc_len - n))
        m = max(2, dec_len - label_pad * r)
        target = torch.randint(2, vocab_size, (m - 1,), generator=g).tolist() + [1]
        labels.append(target + [-100] * (dec_len - m))
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def compute_reference(model, batch):
    """Logits, loss, encoder output and every parameter's gradient (under its HF name), fp32."""
    model.eval()
    model.zero_grad(set_to_none=True)
    out = model(input_ids=torch.tensor(batch["input_ids"]),
                attention_mask=torch.tensor(batch["attention_mask"]),
                labels=torch.tensor(batch["labels"]))
    out.loss.backward()
    expected = {
        "logits": out.logits.detach(),
        "loss": out.loss.detach().reshape(1),
        "encoder_last_hidden_state": out.encoder_last_hidden_state.detach(),
    }
    for name, param in model.named_parameters():  # tied weights appear once, as shared.weight
        expected["grad/" + name] = param.grad.detach().clone()
    return expected


def save_model_folder(model, folder, embedding_names=("shared.weight",), extra_tensors=None):
    """A Hugging Face model folder whose model.safetensors stores the embedding under the given
    names (any of EMBEDDING_ALIASES), lm_head.weight only when untied, plus extra tensors."""
    os.makedirs(folder, exist_ok=True)
    model.config.save_pretrained(folder)
    model.generation_config.save_pretrained(folder)
    state = model.state_dict()
    tensors = {}
    for name, value in state.items():
        if name in EMBEDDING_ALIASES:
            continue
        if name == "lm_head.weight" and model.config.tie_word_embeddings:
            continue
        tensors[name] = value.detach().clone().contiguous()
    for name in embedding_names:
        tensors[name] = state["shared.weight"].detach().clone().contiguous()
    for name, value in (extra_tensors or {}).items():
        tensors[name] = value.contiguous()
    save_file(tensors, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    # The folder must be one transformers itself loads to the same model.
    reloaded = T5ForConditionalGeneration.from_pretrained(folder).eval()
    for (name, a), (_, b) in zip(model.state_dict().items(), reloaded.state_dict().items()):
        assert torch.equal(a, b), f"{folder}: {name} did not survive the round trip"


def read_batch(path):
    with open(path) as f:
        return json.load(f)
