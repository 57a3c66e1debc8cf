"""Tiny random models saved in each backend's on-disk format (seconds to build, no network)."""

from __future__ import annotations

from pathlib import Path

WORDS = ["how", "do", "i", "kill", "a", "python", "process", "the", "cat", "sat", "on", "mat", "bomb", "make", "cake",
         "build", "safe", "prompt", "tell", "me", "joke", "dirty", "clean", "what", "is", "your", "name"]


def _tokenizer(pad: str, unk: str, cls: str | None = None, sep: str | None = None, eos: str | None = None):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = [t for t in (pad, unk, cls, sep, eos) if t]
    vocab = {t: i for i, t in enumerate(specials)}
    for w in WORDS:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if cls and sep:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A {sep}", special_tokens=[(cls, vocab[cls]), (sep, vocab[sep])])
    elif eos:
        tok.post_processor = processors.TemplateProcessing(single=f"$A {eos}", special_tokens=[(eos, vocab[eos])])
    named = {"pad_token": pad, "unk_token": unk, "cls_token": cls, "sep_token": sep, "eos_token": eos}
    kwargs = {k: v for k, v in named.items() if v}
    return PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs), len(vocab)


def save_tiny_bert(path: Path, pooler: bool = True, seed: int = 0) -> Path:
    """A 1-layer BERT (hidden 16) with or without its pooler, as ``save_pretrained`` writes it (SimCSE format)."""
    import torch
    from transformers import BertConfig, BertModel

    tok, n = _tokenizer("[PAD]", "[UNK]", "[CLS]", "[SEP]")
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=n, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=64)
    BertModel(cfg, add_pooling_layer=pooler).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def save_tiny_mpnet(path: Path, seed: int = 0) -> Path:
    """A 1-layer MPNet (hidden 16; attention projections named q, k, v, o, as in all-mpnet-base-v2)."""
    import torch
    from transformers import MPNetConfig, MPNetModel

    tok, n = _tokenizer("<pad>", "<unk>", "<s>", "</s>")
    torch.manual_seed(seed)
    cfg = MPNetConfig(vocab_size=n, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=32, max_position_embeddings=64, pad_token_id=0)
    MPNetModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def save_tiny_st5(path: Path, seed: int = 0) -> Path:
    """A sentence-T5-shaped sentence-transformers model: T5 encoder -> mean pooling -> Dense(16->8) -> Normalize."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer
    from transformers import T5Config, T5EncoderModel

    tok, n = _tokenizer("<pad>", "<unk>", eos="</s>")
    torch.manual_seed(seed)
    hf = path.parent / (path.name + "-t5")
    cfg = T5Config(vocab_size=n, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2)
    T5EncoderModel(cfg).save_pretrained(hf)
    tok.save_pretrained(hf)
    tr = Transformer(str(hf))
    dense = Dense(16, 8, bias=False, activation_function=torch.nn.Identity())
    SentenceTransformer(modules=[tr, Pooling(16, "mean"), dense, Normalize()]).save(str(path))
    return path


def table_encoder(table):
    """A fake encoder reading text ``"r<i>"`` as row ``i`` of ``table`` (n, d), so a test and the code under test
    see the same vectors."""
    from safe_embed.encoders.fake import HashEncoder

    class TableEncoder(HashEncoder):
        def _vec(self, text: str):
            return table[int(text[1:])]

    return TableEncoder(dim=table.shape[1], name="table")
