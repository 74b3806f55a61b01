"""A tiny randomly initialised LTX-Video image-to-video pipeline, saved like a real checkpoint.

Shapes follow diffusers' own LTX fast tests (one transformer layer, 8-channel VAE blocks), with
the VAE's timestep conditioning on, as in LTX-Video 0.9.1 and later. The T5 text encoder is a
tiny random one and its tokenizer a word-level vocabulary built here, so nothing is downloaded.
Saved with `save_pretrained` as safetensors, it is loaded by the same `from_pretrained` path as
real weights: `step2_local_i2v_svd.py --provider ltx --ltx-model <folder> --ltx-checkpoint None
--device cpu`. `without_text_encoder` saves the same pipeline without T5, for runs that use a
prompt encoded earlier.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKLLTXVideo,
    FlowMatchEulerDiscreteScheduler,
    LTXImageToVideoPipeline,
    LTXVideoTransformer3DModel,
)
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

WORDS = ("the illustration comes gently to life with subtle slow natural motion a cat waves "
         "camera stays still drawing style colours and any text exactly as they are").split()


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """Word-level: every word of WORDS is a token, anything else [UNK]."""
    vocab = {word: i for i, word in enumerate(["<pad>", "</s>", "[UNK]", *dict.fromkeys(WORDS)])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>",
                                   unk_token="[UNK]", model_max_length=128)


def build_tiny_ltx(folder: Path, text_encoder: bool = True) -> Path:
    """Save a tiny, deterministic LTX image-to-video pipeline to `folder` and return `folder`."""
    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4,
        attention_head_dim=8, cross_attention_dim=32, num_layers=1, caption_channels=32,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8,
        block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False), upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=True, patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False,
    )
    torch.manual_seed(0)
    encoder = T5EncoderModel(T5Config(vocab_size=64, d_model=32, d_kv=8, d_ff=37, num_layers=1,
                                      num_heads=4, relative_attention_num_buckets=8)).eval()
    pipe = LTXImageToVideoPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, transformer=transformer,
        text_encoder=encoder if text_encoder else None, tokenizer=tiny_tokenizer() if text_encoder else None,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
