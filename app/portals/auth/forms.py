from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[
        DataRequired(), Length(min=10, max=200, message="Use at least 10 characters.")])
    confirm = PasswordField("Repeat it", validators=[
        DataRequired(), EqualTo("password", message="The two passwords differ.")])


class ChangePasswordForm(SetPasswordForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=255)])


class CodeForm(FlaskForm):
    code = StringField("Code from your authenticator app (or a recovery code)",
                       validators=[DataRequired(), Length(max=40)])


class EnrolForm(FlaskForm):
    code = StringField("The 6-digit code your app shows now",
                       validators=[DataRequired(), Length(max=20)])


class ConfirmPasswordForm(FlaskForm):
    """Re-enter the password before a sensitive change (turning two-factor off)."""
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=200)])
