"""Logins: one per portal. A user of another portal gets the same answer as a wrong password,
and repeated failures are throttled per email and address."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.extensions import db, get_redis
from app.models import AuditEvent, User, utcnow
from app.portals.auth import bp
from app.portals.auth.forms import LoginForm, SetPasswordForm
from app.portals.auth.invitations import find_invited_user
from app.portals.passwords import hash_password, verify_password

HOME = {"customer": "customer.dashboard", "partner": "partner.dashboard",
        "staff": "staff.dashboard"}
TITLES = {"customer": "Customer portal", "partner": "Partner portal", "staff": "Staff"}


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for(HOME[current_user.portal]))
    return render_template("auth/index.html")


@bp.route("/portal/login", methods=["GET", "POST"], endpoint="customer_login")
def customer_login():
    return _login("customer")


@bp.route("/partner/login", methods=["GET", "POST"], endpoint="partner_login")
def partner_login():
    return _login("partner")


@bp.route("/staff/login", methods=["GET", "POST"], endpoint="staff_login")
def staff_login():
    return _login("staff")


def _login(portal):
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        throttle_key = f"lastmile:login:{portal}:{email}:{request.remote_addr}"
        redis = get_redis()
        if int(redis.get(throttle_key) or 0) >= current_app.config["LOGIN_MAX_ATTEMPTS"]:
            form.password.errors.append("Too many failed attempts. Wait a few minutes and "
                                        "try again.")
            return render_template("auth/login.html", form=form, portal=portal,
                                   title=TITLES[portal]), 429
        user = db.session.execute(db.select(User).filter(
            db.func.lower(User.email) == email)).scalar_one_or_none()
        if user and user.portal == portal and user.is_active and \
                verify_password(user.password_hash, form.password.data):
            redis.delete(throttle_key)
            login_user(user)
            user.last_login_at = utcnow()
            _audit(user, "login")
            db.session.commit()
            return redirect(_safe_next(portal))
        redis.incr(throttle_key)
        redis.expire(throttle_key, current_app.config["LOGIN_LOCKOUT_SECONDS"])
        form.password.errors.append("Wrong email or password.")
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template("auth/login.html", form=form, portal=portal,
                           title=TITLES[portal]), status


def _safe_next(portal):
    """Only a path inside the same portal: never an open redirect."""
    target = request.args.get("next", "")
    prefix = {"customer": "/portal", "partner": "/partner", "staff": "/staff"}[portal]
    if target.startswith(prefix + "/") and not target.startswith("//"):
        return target
    return url_for(HOME[portal])


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    portal = current_user.portal
    _audit(current_user, "logout")
    db.session.commit()
    logout_user()
    flash("You are signed out.")
    return redirect(url_for({"customer": "auth.customer_login", "partner": "auth.partner_login",
                             "staff": "auth.staff_login"}[portal]))


@bp.route("/portal/invite/<token>", methods=["GET", "POST"])
def accept_invitation(token):
    user = find_invited_user(token)
    if user is None:
        abort(404)
    form = SetPasswordForm()
    if form.validate_on_submit():
        user.password_hash = hash_password(form.password.data)
        user.invitation_token_hash = None  # single use
        _audit(user, "invitation_accepted")
        db.session.commit()
        login_user(user)
        return redirect(url_for(HOME[user.portal]))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/invite.html", form=form, user=user), status


def _audit(user, action):
    db.session.add(AuditEvent(user_id=user.id, portal=user.portal, action=action,
                              ip_address=request.remote_addr, created_at=utcnow()))
