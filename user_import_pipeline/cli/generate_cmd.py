"""``user-import generate``: write a synthetic users file (CONTRACT §2) for demos and load tests."""

import time
from pathlib import Path

import click

from user_import_pipeline.generate import Format, generate_users, output_format


@click.command()
@click.argument("count", type=click.IntRange(min=0))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file: .json (a JSON array) or .jsonl/.ndjson (JSON Lines), .gz for gzip.",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["json", "jsonl"]),
    help="json: a JSON array; jsonl: JSON Lines, one user per line. [default: from --out]",
)
@click.option("--seed", default=0, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--invalid-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Fraction of rows made invalid, cycling through every row error kind.",
)
def generate(
    count: int, out: Path, file_format: Format | None, seed: int, invalid_rate: float
) -> None:
    """Write COUNT synthetic users to --out."""
    try:
        output_format(out, file_format)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--out") from None
    started = time.perf_counter()
    stats = generate_users(
        out, count, seed=seed, invalid_rate=invalid_rate, file_format=file_format
    )
    click.echo(
        f"wrote {stats.users} users, {stats.addresses} addresses, "
        f"{stats.invalid_rows} invalid rows, {stats.bytes_written} bytes to {out} "
        f"in {time.perf_counter() - started:.1f}s"
    )
