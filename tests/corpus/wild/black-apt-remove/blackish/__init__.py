import click


@click.command()
@click.argument("paths", nargs=-1)
def main(paths: tuple[str, ...]) -> None:
    """Would reformat PATHS."""
    for path in paths:
        click.echo(f"would reformat {path}")
