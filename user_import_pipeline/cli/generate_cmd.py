"""``user-import generate``: write a synthetic users file (CONTRACT §2) for demos and load tests."""

import time
from pathlib import Path

import click

from user_import_pipeline.generate import OUTPUT_SUFFIXES, generate_users


@click.command()
@click.argument("count", type=click.IntRange(min=0))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file, .json or .json.gz (gzip).",
)
@click.option("--seed", default=0, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--invalid-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Fraction of rows made invalid, cycling through every row error kind.",
)
def generate(count: int, out: Path, seed: int, invalid_rate: float) -> None:
    """Write COUNT synthetic users to --out."""
    if not out.name.endswith(OUTPUT_SUFFIXES):
        raise click.BadParameter("must end in .json or .json.gz", param_hint="--out")
    started = time.perf_counter()
    stats = generate_users(out, count, seed=seed, invalid_rate=invalid_rate)
    click.echo(
        f"wrote {stats.users} users, {stats.addresses} addresses, "
        f"{stats.invalid_rows} invalid rows, {stats.bytes_written} bytes to {out} "
        f"in {time.perf_counter() - started:.1f}s"
    )
