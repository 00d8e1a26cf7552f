"""``mxguard demo``: the main job, shown on the embedded sandbox."""

from __future__ import annotations

import click


@click.command(short_help="Follow triggers on the embedded sandbox, release, block.")
@click.option(
    "--rounds",
    type=click.IntRange(1, 100),
    default=8,
    show_default=True,
    help="Rounds of traffic to show.",
)
@click.option(
    "--pause",
    type=click.FloatRange(0, 60),
    default=1.0,
    show_default=True,
    help="Seconds between rounds.",
)
@click.option(
    "--seed",
    type=int,
    default=7,
    show_default=True,
    help="Seed of everything random (account history, traffic): the same seed, the same demo.",
)
def demo(rounds: int, pause: float, seed: int) -> None:
    """The main job on the embedded sandbox: follow triggers, release a false positive, block a
    spammer."""
    from connector.demo import run_demo

    run_demo(rounds=rounds, pause=pause, seed=seed)
