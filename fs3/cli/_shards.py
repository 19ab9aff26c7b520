"""`fs3 shards build|info`: deduplicated token shards from text, and what a shard set holds."""

from __future__ import annotations

import json

import click

from ._common import ProgressBars, export_cluster, progress_enabled


@click.group()
def shards() -> None:
    """Token shards for training: build them from text, inspect them."""


@shards.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out", metavar="URL", help="Where the shard set goes: fs3:///datasets/NAME or a local directory.")
@click.option("--text-field", default="text", show_default=True, help="JSONL field / Parquet column holding the text.")
@click.option("--glob", "pattern", metavar="PATTERN", help="Only files whose name matches, in input directories (e.g. '*.py').")
@click.option("--scope", type=click.Choice(["global", "input"]), default="global", show_default=True,
              help="Deduplicate across all inputs, or within each input separately.")
@click.option("--exact/--no-exact", default=True, show_default=True, help="Exact dedup (128-bit hash of the words).")
@click.option("--near/--no-near", default=True, show_default=True, help="Near dedup (MinHash + LSH).")
@click.option("--threshold", default=0.8, show_default=True, help="Jaccard similarity that makes a near duplicate.")
@click.option("--num-perm", default=128, show_default=True, help="MinHash permutations.")
@click.option("--bands", default=0, help="LSH bands (default: chosen from the threshold).")
@click.option("--rows", default=0, help="Rows per band (default: chosen from the threshold).")
@click.option("--shingle", default=5, show_default=True, help="Words per shingle.")
@click.option("--tokenizer", metavar="PATH", help="A Hugging Face tokenizer.json (default: byte-level).")
@click.option("--eod-token", metavar="TOKEN", help="End-of-document token of the tokenizer (default: guessed).")
@click.option("--shard-tokens", default=1 << 26, show_default=True, help="Tokens per shard.")
@click.option("--processes", "-j", type=click.IntRange(1, 4096), help="Worker processes (default: one per core).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where the workers run: processes here, or a Ray cluster (pip install 'fs3[ray]').")
@click.option("--ray-address", metavar="ADDRESS", help="An existing Ray cluster (default: one started for the build).")
@click.option("--part-size", default="64M", show_default=True,
              help="Input bytes a worker takes at a time (each part's kept documents make its own shards).")
@click.option("--dry-run", is_flag=True, help="Report duplicate clusters; write nothing.")
@click.option("--overwrite", is_flag=True, help="Replace a shard set already at --out.")
@click.option("--show", default=10, show_default=True, help="Duplicate clusters to list.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: on a terminal).")
def build(inputs, out, text_field, pattern, scope, exact, near, threshold, num_perm, bands, rows, shingle,
          tokenizer, eod_token, shard_tokens, processes, engine, ray_address, part_size, dry_run, overwrite, show,
          as_json, progress):
    """Build deduplicated token shards from INPUTS (JSONL, Parquet or text files or directories, local or
    fs3:// URLs). A build that was stopped goes on from its last finished stage when run again with the
    same inputs and options."""
    from fs3._errors import InvalidArgument
    from fs3.dataloader import MinHashParams, build_shards

    from ._bench import parse_size

    if out is None and not dry_run:
        raise InvalidArgument("say where the shards go with --out URL (or use --dry-run)")
    part_bytes = parse_size(part_size)
    if not 1 << 10 <= part_bytes <= 1 << 40:
        raise InvalidArgument("Invalid argument: --part-size from 1K to 1T")
    if ray_address and engine != "ray":
        raise InvalidArgument("--ray-address goes with --engine ray")
    export_cluster()
    bars = ProgressBars(progress_enabled(progress) and not as_json)
    try:
        report = build_shards(list(inputs), out, text_field=text_field, pattern=pattern, dedup_scope=scope,
                              exact_dedup=exact, near_dedup=near,
                              minhash=MinHashParams(num_perm=num_perm, threshold=threshold, bands=bands,
                                                    rows=rows, shingle_size=shingle),
                              tokenizer=tokenizer, eod_token=eod_token, shard_tokens=shard_tokens,
                              processes=processes, dry_run=dry_run, overwrite=overwrite, progress=bars,
                              engine=engine, ray_address=ray_address, part_size=part_bytes)
    finally:
        bars.close()
    m = report.manifest
    stats = m.dedup["stats"]
    if as_json:
        click.echo(json.dumps({"out": out, "dry_run": dry_run, "stats": stats, "seconds": report.seconds,
                               "documents": m.documents, "tokens": m.tokens, "shards": len(m.shards),
                               "clusters": report.duplicate_clusters(show)}, indent=2))
        return
    click.echo(f"{stats['documents_in']} documents in: {stats['exact_duplicates_removed']} exact duplicates "
               f"and {stats['near_duplicates_removed']} near duplicates removed"
               + (f", {stats['empty_documents_removed']} empty" if stats.get("empty_documents_removed") else "")
               + f"; {stats['documents_kept']} kept")
    for c in report.duplicate_clusters(show):
        more = f" (+{len(c['removed']) - 3} more)" if len(c["removed"]) > 3 else ""
        click.echo(f"  {c['kind']:5} kept {c['kept']}  removed {', '.join(c['removed'][:3])}{more}")
    if not dry_run:
        click.echo(f"wrote {len(m.shards)} shards to {out}: {m.documents} documents, {m.tokens} tokens "
                   f"({m.dtype}, vocabulary {m.vocab_size})")


@shards.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="The manifest as JSON.")
def info(url, as_json):
    """What a shard set holds (its manifest)."""
    from fs3.dataloader import MANIFEST_NAME, Manifest, files

    export_cluster()
    m = Manifest.from_json(files.read_bytes(files.join(url, MANIFEST_NAME)))
    if as_json:
        click.echo(m.to_json(), nl=False)
        return
    stats = m.dedup.get("stats", {})
    click.echo(f"{url}: {len(m.shards)} shards, {m.documents} documents, {m.tokens} tokens, {m.dtype}")
    tokenizer_ok = _tokenizer_line(url, m)
    if stats:
        click.echo(f"dedup ({m.dedup.get('scope')}): {stats.get('documents_in')} in, "
                   f"{stats.get('exact_duplicates_removed')} exact and {stats.get('near_duplicates_removed')} "
                   f"near duplicates removed")
    click.echo(f"built {m.created} from {', '.join(m.inputs)}")
    if not tokenizer_ok:
        raise SystemExit(1)


def _tokenizer_line(url: str, m) -> bool:
    """Print what tokenizer the set was built with, and whether its stored file still matches the
    manifest's SHA-256 (a trainer resuming on the set checks the same); False when it does not."""
    from fs3.dataloader import verify_tokenizer

    spec = m.tokenizer if isinstance(m.tokenizer, dict) else {}
    words = [str(spec.get("kind"))]
    if spec.get("file"):
        source = f" (from {spec['source']})" if spec.get("source") and spec["source"] != spec["file"] else ""
        words.append(f"file {spec['file']}{source}, SHA-256 {str(spec.get('sha256'))[:12]}...")
    click.echo(f"tokenizer: {', '.join(words)} (vocabulary {m.vocab_size}, end of document {m.eod_id})")
    try:
        verify_tokenizer(url, m)
    except OSError as exc:
        click.echo(f"fs3: shards info: tokenizer check failed: {exc}", err=True)
        return False
    if spec.get("file"):
        click.echo("tokenizer file: verified (matches the manifest's SHA-256)")
    return True
