"""Sign-in, two-factor, password reset, invitations and the account page, for all portals.

A login belongs to one portal: a user of another portal gets the same answer as a wrong
password, and it takes as long (a dummy hash is checked when there is no such user), so the
answer does not tell which emails exist. Attempts are throttled before the password is
checked (throttle.py). Sessions live on the server (sessions.py)."""
from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, session, \
    url_for
from flask_login import current_user, login_required
from sqlalchemy import func

from app.extensions import db
from app.models import User, utcnow
from app.models.auth import two_factor_required
from app.portals import audit
from app.portals.access import LOGIN_ENDPOINTS
from app.portals.auth import bp, throttle
from app.portals.auth import two_factor as totp
from app.portals.auth.forms import (ChangePasswordForm, CodeForm, ConfirmPasswordForm,
                                    EnrolForm, ForgotPasswordForm, LoginForm, SetPasswordForm)
from app.portals.auth.invitations import find_invited_user, find_reset_user, \
    send_password_reset
from app.portals.auth.sessions import end_session, live_sessions, revoke_sessions, \
    start_session
from app.portals.passwords import hash_password, verify_password, verify_dummy

HOME = {"customer": "customer.dashboard", "partner": "partner.dashboard",
        "staff": "staff.dashboard"}
TITLES = {"customer": "Customer portal", "partner": "Partner portal", "staff": "Staff"}
PREFIX = {"customer": "/portal", "partner": "/partner", "staff": "/staff"}
PENDING = "pending_login"
PENDING_MINUTES = 10


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


def _address():
    return request.remote_addr or "unknown"


def _login(portal):
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        wait = throttle.attempt(portal, email, _address())
        if wait:
            form.password.errors.append(
                f"Too many attempts. Try again in {max(1, round(wait / 60))} minute(s).")
            return render_template("auth/login.html", form=form, portal=portal,
                                   title=TITLES[portal]), 429, {"Retry-After": str(wait)}
        user = db.session.execute(db.select(User).filter(
            func.lower(User.email) == email)).scalar_one_or_none()
        usable = user is not None and user.portal == portal and user.is_active and \
            bool(user.password_hash)
        # Always one Argon2 check, so a missing account answers as slowly as a wrong password.
        if usable and verify_password(user.password_hash, form.password.data):
            throttle.succeeded(portal, email, _address())
            return _password_accepted(user, _safe_next(portal))
        if not usable:
            verify_dummy(form.password.data)
        form.password.errors.append("Wrong email or password.")
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template("auth/login.html", form=form, portal=portal,
                           title=TITLES[portal]), status


def _safe_next(portal):
    """Only a path inside the same portal: never an open redirect, never a header injection."""
    target = request.args.get("next", "")
    if len(target) > 500 or any(ch in target for ch in "\r\n\\") or target.startswith("//"):
        return url_for(HOME[portal])
    if target.startswith(PREFIX[portal] + "/"):
        return target
    return url_for(HOME[portal])


def _password_accepted(user, next_url):
    """The password was right: sign in, or ask for the second factor (or its enrolment)."""
    if user.totp_enabled_at or two_factor_required(user):
        session.pop(PENDING, None)
        session[PENDING] = {"user_id": user.id, "next": next_url,
                            "until": (utcnow() + timedelta(minutes=PENDING_MINUTES)).isoformat()}
        if user.totp_enabled_at:
            return redirect(url_for("auth.two_factor"))
        return redirect(url_for("auth.two_factor_enrol"))
    return _signed_in(user, next_url)


def _signed_in(user, next_url):
    start_session(user)
    user.last_login_at = utcnow()
    audit.record("login", "user", user.id, user=user)
    db.session.commit()
    return redirect(next_url)


def _pending_user():
    """The user who gave the right password and still owes the second factor, or None."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or str(pending.get("until", "")) < utcnow().isoformat():
        session.pop(PENDING, None)
        return None, None
    user = db.session.get(User, pending.get("user_id"))
    if user is None or not user.is_active:
        return None, None
    return user, pending


def _login_again():
    flash("That sign-in expired. Please sign in again.", "error")
    return redirect(url_for("auth.index"))


@bp.route("/login/two-factor", methods=["GET", "POST"])
def two_factor():
    user, pending = _pending_user()
    if user is None:
        return _login_again()
    if not user.totp_enabled_at:
        return redirect(url_for("auth.two_factor_enrol"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        wait = throttle.attempt("totp", str(user.id), _address())
        if wait:
            form.code.errors.append("Too many attempts. Wait a few minutes and try again.")
            return render_template("auth/two_factor.html", form=form, user=user), 429
        code = form.code.data
        used_recovery = False
        if not totp.verify(user, code):
            used_recovery = totp.use_recovery_code(user, code)
            if not used_recovery:
                form.code.errors.append("That code is not right (or was used already).")
                return render_template("auth/two_factor.html", form=form, user=user), 401
        throttle.succeeded("totp", str(user.id), _address())
        if used_recovery:
            audit.record("two_factor.recovery_code_used", "user", user.id, user=user,
                         remaining=len(user.recovery_code_hashes))
            flash(f"You used a recovery code; {len(user.recovery_code_hashes)} left.")
        return _signed_in(user, pending["next"])
    elif request.method == "POST":
        status = 422
    return render_template("auth/two_factor.html", form=form, user=user), status


@bp.route("/login/two-factor/enrol", methods=["GET", "POST"])
def two_factor_enrol():
    """Enrolment at sign-in, for roles that must have a second factor."""
    user, pending = _pending_user()
    if user is None:
        return _login_again()
    if user.totp_enabled_at:
        return redirect(url_for("auth.two_factor"))
    if not pending.get("secret"):
        pending["secret"] = totp.new_secret()
        session[PENDING] = pending
    form = EnrolForm()
    status = 200
    if form.validate_on_submit():
        if totp.code_matches(pending["secret"], form.code.data):
            codes = totp.enable(user, pending["secret"])
            audit.record("two_factor.enabled", "user", user.id, user=user)
            _signed_in(user, pending["next"])
            return render_template("auth/recovery_codes.html", codes=codes,
                                   next_url=pending["next"])
        form.code.errors.append("That code is not right. Check the time on your phone "
                                "and try the code shown now.")
        status = 401
    elif request.method == "POST":
        status = 422
    return _enrol_page(user, pending["secret"], form, url_for("auth.two_factor_enrol"),
                       status, required=True)


def _enrol_page(user, secret, form, action, status, required=False):
    uri = totp.provisioning_uri(user, secret)
    return render_template("auth/enrol.html", form=form, user=user, secret=secret,
                           qr=totp.qr_svg(uri), action=action, required=required,
                           layout=None if required else f"{user.portal}/base.html"), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    portal = current_user.portal
    audit.record("logout", "user", current_user.id)
    end_session()
    db.session.commit()
    flash("You are signed out.")
    return redirect(url_for(LOGIN_ENDPOINTS[portal]))


# ------------------------------------------------------------------ password reset

@bp.route("/portal/forgot-password", methods=["GET", "POST"], endpoint="customer_forgot")
def customer_forgot():
    return _forgot("customer")


@bp.route("/partner/forgot-password", methods=["GET", "POST"], endpoint="partner_forgot")
def partner_forgot():
    return _forgot("partner")


@bp.route("/staff/forgot-password", methods=["GET", "POST"], endpoint="staff_forgot")
def staff_forgot():
    return _forgot("staff")


def _forgot(portal):
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        if throttle.attempt(f"reset:{portal}", email, _address()):
            form.email.errors.append("Too many requests. Wait a few minutes and try again.")
            return render_template("auth/forgot.html", form=form, portal=portal,
                                   title=TITLES[portal]), 429
        user = db.session.execute(db.select(User).filter(
            func.lower(User.email) == email)).scalar_one_or_none()
        if user is not None and user.portal == portal and user.is_active:
            try:
                send_password_reset(user)
            except Exception:  # the outbox keeps the failure; the page must not tell
                current_app.logger.exception("password reset email to user %s failed",
                                             user.id)
                db.session.rollback()
            audit.record("password.reset_requested", "user", user.id, user=user)
            db.session.commit()
        # The same answer either way: the page does not tell who has an account.
        return render_template("auth/forgot.html", form=None, portal=portal,
                               title=TITLES[portal], sent_to=email)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/forgot.html", form=form, portal=portal,
                           title=TITLES[portal]), status


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token):
    user = find_reset_user(token)
    if user is None:
        return render_template("auth/reset_invalid.html"), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        _set_password(user, form.password.data)
        user.reset_token_hash = user.reset_token_expires_at = None  # single use
        revoke_sessions(user)
        audit.record("password.reset", "user", user.id, user=user)
        db.session.commit()
        flash("Your password is changed. Sign in with it now.")
        return redirect(url_for(LOGIN_ENDPOINTS[user.portal]))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/reset.html", form=form, user=user), status


def _set_password(user, password):
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()


@bp.route("/portal/invite/<token>", methods=["GET", "POST"])
def accept_invitation(token):
    user = find_invited_user(token)
    if user is None:
        abort(404)
    form = SetPasswordForm()
    if form.validate_on_submit():
        _set_password(user, form.password.data)
        user.invitation_token_hash = None  # single use
        audit.record("invitation_accepted", "user", user.id, user=user)
        db.session.commit()
        return _password_accepted(user, url_for(HOME[user.portal]))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/invite.html", form=form, user=user), status


# ------------------------------------------------------------------ the account page

def _account_page(status=200, **forms):
    forms.setdefault("password_form", ChangePasswordForm())
    forms.setdefault("disable_form", ConfirmPasswordForm())
    return render_template("auth/account.html", layout=f"{current_user.portal}/base.html",
                           sessions=live_sessions(current_user),
                           required=two_factor_required(current_user), **forms), status


@bp.route("/account")
@login_required
def account():
    return _account_page()


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _account_page(422, password_form=form)
    if throttle.attempt("pwchange", str(current_user.id), _address()):
        form.current.errors.append("Too many attempts. Wait a few minutes and try again.")
        return _account_page(429, password_form=form)
    if not verify_password(current_user.password_hash, form.current.data):
        form.current.errors.append("That is not your current password.")
        return _account_page(422, password_form=form)
    _set_password(current_user, form.password.data)
    ended = revoke_sessions(current_user, keep_current=True)
    audit.record("password.changed", "user", current_user.id, other_sessions_ended=ended)
    db.session.commit()
    flash("Your password is changed; every other browser signed in as you is signed out.")
    return redirect(url_for("auth.account"), 303)


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@login_required
def sign_out_everywhere():
    portal = current_user.portal
    ended = revoke_sessions(current_user)
    audit.record("sessions.revoked_all", "user", current_user.id, sessions=ended)
    end_session()
    db.session.commit()
    flash(f"You are signed out everywhere ({ended} session(s)).")
    return redirect(url_for(LOGIN_ENDPOINTS[portal]), 303)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
def account_two_factor():
    """Enrolment from the account page (optional for most, required for admin and finance)."""
    if current_user.totp_enabled_at:
        return redirect(url_for("auth.account"))
    secret = session.get("totp_enrol_secret")
    if not secret:
        secret = session["totp_enrol_secret"] = totp.new_secret()
    form = EnrolForm()
    status = 200
    if form.validate_on_submit():
        if totp.code_matches(secret, form.code.data):
            codes = totp.enable(current_user, secret)
            session.pop("totp_enrol_secret", None)
            audit.record("two_factor.enabled", "user", current_user.id)
            db.session.commit()
            return render_template("auth/recovery_codes.html", codes=codes,
                                   next_url=url_for("auth.account"),
                                   layout=f"{current_user.portal}/base.html")
        form.code.errors.append("That code is not right. Try the code shown now.")
        status = 422
    elif request.method == "POST":
        status = 422
    return _enrol_page(current_user, secret, form, url_for("auth.account_two_factor"), status)


@bp.route("/account/two-factor/disable", methods=["POST"])
@login_required
def disable_two_factor():
    form = ConfirmPasswordForm()
    if two_factor_required(current_user):
        flash("Your role must sign in with two-factor; it cannot be turned off.", "error")
        return redirect(url_for("auth.account"), 303)
    if not form.validate_on_submit():
        return _account_page(422, disable_form=form)
    if throttle.attempt("pwchange", str(current_user.id), _address()) or \
            not verify_password(current_user.password_hash, form.password.data):
        form.password.errors.append("That is not your password.")
        return _account_page(422, disable_form=form)
    totp.disable(current_user)
    audit.record("two_factor.disabled", "user", current_user.id)
    db.session.commit()
    flash("Two-factor sign-in is off.")
    return redirect(url_for("auth.account"), 303)


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
@login_required
def new_recovery_codes():
    if not current_user.totp_enabled_at:
        return redirect(url_for("auth.account"), 303)
    codes = totp.new_recovery_codes(current_user)
    audit.record("two_factor.recovery_codes_replaced", "user", current_user.id)
    db.session.commit()
    return render_template("auth/recovery_codes.html", codes=codes,
                           next_url=url_for("auth.account"),
                           layout=f"{current_user.portal}/base.html")
