"""fs3 data loader: deduplicated token shards streamed to training jobs (see the issue tracker)."""

from __future__ import annotations

__all__: list[str] = []
