"""The application factory: extensions, blueprints, CLI, error pages."""
import logging

from flask import Flask, render_template, request

from app.config import load_config
from app.extensions import csrf, db, htmx, login_manager, migrate


def create_app(config=None):
    app = Flask(__name__, instance_relative_config=False)
    load_config(app, config)
    from app.portals.hardening import BoundedIntConverter
    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)

    from app import models  # noqa: F401  (registers every table)
    from app.portals.access import load_user
    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.index"  # pages of no single portal (the account page)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _tune_sqlite(app)

    from app.portals import register_blueprints
    register_blueprints(app)

    from app.cli import register_cli
    register_cli(app)

    from app.workflows.validate import validate_all
    validate_all()  # a broken definition stops the app here, naming the workflow and step

    _register_error_pages(app)

    from app.portals.audit import audit_staff_request
    app.after_request(audit_staff_request)

    from app.portals.navigation import nav_items
    from app.portals.pagination import cell
    from app.portals.customer.renewals import renewal_context
    from app.portals.hardening import render_public_error
    from app.portals.wizards import new_submission_token
    from app.portals import formatting
    formatting.register(app)  # when / day / money / yesno / status_label / workflow_title
    from app.portals.installation_view import installation_bookings
    app.jinja_env.globals["installation_bookings"] = installation_bookings
    app.jinja_env.globals.update(nav_items=nav_items, cell=cell, renewal_context=renewal_context,
                                 public_run_error=render_public_error,
                                 new_submission_token=new_submission_token)
    return app


def _tune_sqlite(app):
    """WAL lets the web read while a worker writes; foreign keys are off by default."""
    from sqlalchemy import event
    with app.app_context():
        @event.listens_for(db.engine, "connect")
        def _on_connect(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()


def _register_error_pages(app):
    from flask_wtf.csrf import CSRFError

    def render_error(status, title, message):
        template = "components/error_fragment.html" if request.headers.get("HX-Request") \
            else "error.html"
        try:
            return render_template(template, status=status, title=title,
                                   message=message), status
        except Exception:  # e.g. no URL adapter for a malformed Host: answer in plain text
            logging.getLogger(__name__).exception("error page %s not rendered", status)
            return f"{title}. {message}", status, {"Content-Type": "text/plain; charset=utf-8"}

    from app.portals import hardening
    hardening.register(app, render_error)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(400, "Form expired", "The form was out of date. Reload the page "
                                                 "and try again.")

    @app.errorhandler(400)
    def bad_request(error):
        return render_error(400, "Bad request", getattr(error, "description", "") or
                            "The request could not be understood.")

    @app.errorhandler(403)
    def forbidden(error):
        return render_error(403, "Not allowed", "You do not have access to this page.")

    @app.errorhandler(404)
    def not_found(error):
        return render_error(404, "Not found", "There is nothing at this address.")

    @app.errorhandler(405)
    def method_not_allowed(error):
        return render_error(405, "Not allowed", "This address does not accept that method.")

    @app.errorhandler(413)
    def too_large(error):
        return render_error(413, "Too large", "The request is larger than this form accepts.")

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return render_error(500, "Something went wrong",
                            "The error was logged. Please try again in a moment.")
