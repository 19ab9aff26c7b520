"""fs3 data loader: deduplicated token shards (Megatron indexed-dataset format plus a manifest) and a
PyTorch-compatible dataset that streams them from fs3 deterministically and resumably.

    from fs3.dataloader import build_shards, TokenDataset, TokenLoader
    build_shards(["corpus.jsonl"], "fs3:///datasets/corpus")
    ds = TokenDataset("fs3:///datasets/corpus", seq_len=2048, batch_size=8, seed=1)
    for batch in TokenLoader(ds, num_workers=2): ...
"""

from __future__ import annotations

__all__ = ["build_shards", "BuildReport", "MinHashParams", "Manifest", "TokenDataset", "TokenLoader"]

_WHERE = {"build_shards": "_build", "BuildReport": "_build", "MinHashParams": "_minhash",
          "Manifest": "_format", "TokenDataset": "_dataset", "TokenLoader": "_loader"}


def __getattr__(name: str):  # lazy: builder worker processes need neither torch nor the client
    if name in _WHERE:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(name)
