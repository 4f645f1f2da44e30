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


license_cli = AppGroup("license", help="License keys and tokens.")


@license_cli.command("verify")
@click.argument("token")
def license_verify(token):
    """Check a license token's signature (and whether the license was revoked)."""
    from app.workflows.registry import get_service
    payload, problem = get_service("license").verify_token(token)
    if payload:
        click.echo(f"license {payload['key']}: {payload['product']}, {payload['seats']} seats, "
                   f"expires {payload.get('expires_at') or 'never'}")
    if problem:
        raise click.ClickException(problem)
    click.echo("valid")


@license_cli.command("public-key")
def license_public_key():
    """Print the public key that verifies license tokens offline."""
    from app.integrations.license_signing import public_key_pem
    from app.services.license.issuing import signing_key
    click.echo(public_key_pem(signing_key()), nl=False)


radius_cli = AppGroup("radius", help="FreeRADIUS tables.")


@radius_cli.command("init-db")
def radius_init_db():
    """Create the rad* tables in RADIUS_DATABASE_URL's database."""
    from app.workflows.registry import get_service
    get_service("radius").create_schema()
    click.echo("RADIUS tables ready.")


def register_cli(app):
    app.cli.add_command(seed_cli)
    app.cli.add_command(license_cli)
    app.cli.add_command(radius_cli)
