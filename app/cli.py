"""Command-line entry points: `flask seed demo`, `flask license verify`, ... Each area adds
its commands in its own function below, registered in register_cli."""
import click
from flask.cli import AppGroup

seed_cli = AppGroup("seed", help="Load data.")


@seed_cli.command("demo")
def seed_demo():
    """Load the demo data (idempotent: running it twice changes nothing)."""
    from app.seed import seed_demo_data
    seed_demo_data()
    click.echo("Demo data ready.")


@seed_cli.command("bulk")
@click.option("--customers", default=100_000, show_default=True)
def seed_bulk(customers):
    """Add many customers (for the speed benchmarks)."""
    from app.seed import seed_bulk_customers
    seed_bulk_customers(customers)
    click.echo(f"Added {customers} customers.")


def register_cli(app):
    app.cli.add_command(seed_cli)
