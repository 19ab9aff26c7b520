"""fs3 data loader: deduplicated token shards (Megatron indexed-dataset format plus a manifest) and a
PyTorch-compatible dataset that streams them from fs3 deterministically and resumably.

    from fs3.dataloader import build_shards, TokenDataset, TokenLoader
    build_shards(["corpus.jsonl"], "fs3:///datasets/corpus")
    ds = TokenDataset("fs3:///datasets/corpus", seq_len=2048, batch_size=8, seed=1)
    for batch in TokenLoader(ds, num_workers=2): ...
"""

from __future__ import annotations

__all__ = [
    "MANIFEST_NAME", "BuildReport", "Manifest", "MinHashParams", "ShardInfo", "TokenDataset", "TokenLoader",
    "build_shards", "encode_index", "files", "load_tokenizer", "torch_available", "verify_tokenizer",
]

_WHERE = {"build_shards": "_build", "BuildReport": "_build", "MinHashParams": "_minhash",
          "Manifest": "_format", "ShardInfo": "_format", "MANIFEST_NAME": "_format", "encode_index": "_format",
          "verify_tokenizer": "_format", "load_tokenizer": "_format",
          "TokenDataset": "_dataset", "TokenLoader": "_loader"}


def torch_available() -> bool:
    """Whether PyTorch imports here: ``TokenLoader`` needs it; ``TokenDataset`` then yields tensors
    (numpy arrays without it)."""
    from ._dataset import torch

    return torch is not None


def __getattr__(name: str):  # lazy: builder worker processes need neither torch nor the client
    import importlib

    if name == "files":  # reading and writing local paths and fs3:// URLs alike
        return importlib.import_module(f"{__name__}._files")
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(name)
