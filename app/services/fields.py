"""Checks of single field values that services and forms share (email, colour, URL, domain).
Each returns an error message written for the person filling the form, or None when fine."""
import re

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_HTTP_URL = re.compile(r"^https?://[^\s/$.?#][^\s<>\"']*$", re.IGNORECASE)
# Inline images only: a data: URL of another type could carry script.
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=]+$")


def email_error(value):
    if not value:
        return "Enter an email address."
    if len(value) > 255 or not _EMAIL.match(value):
        return "Enter a valid email address, like name@example.com."
    return None


def colour_error(value):
    if value and not _COLOUR.match(value):
        return "Use a colour like #1a2b3c."
    return None


def image_url_error(value):
    if value and len(value) > 500:
        return "The logo URL is too long (500 characters at most)."
    if value and not (_HTTP_URL.match(value) or _DATA_IMAGE.match(value)):
        return "Use an http(s):// address or a data:image/...;base64 URL."
    return None


def domain_error(value):
    """A tenant's own domain: a valid host name, and never the platform's own host or one of
    its subdomains (that would put a tenant's page at the portal's address)."""
    if value and not _DOMAIN.match(value):
        return "Use a domain name like portal.example.com (lower case, no http://)."
    if value and is_platform_host(value):
        return "That is the platform's own address; use a domain of your own."
    return None


def platform_host():
    """PUBLIC_BASE_URL's host name (lower case), or None outside an app."""
    from urllib.parse import urlsplit

    from flask import current_app, has_app_context
    if not has_app_context():
        return None
    return (urlsplit(current_app.config.get("PUBLIC_BASE_URL") or "").hostname or "").lower() \
        or None


def is_platform_host(host):
    platform = platform_host()
    host = (host or "").lower().rstrip(".")
    return bool(platform) and (host == platform or host.endswith("." + platform))


def text_error(value, label, max_length, required=False):
    if value is not None and not isinstance(value, str):
        return f"The {label} must be text."
    if required and not (value or "").strip():
        return f"Enter the {label}."
    if value and len(value) > max_length:
        return f"The {label} is too long ({max_length} characters at most)."
    return None


def summary(errors):
    """Field errors as one sentence, for readers of a run's history (no form to point at)."""
    return " ".join(f"{field.replace('_', ' ').capitalize()}: {message}"
                    for field, message in errors.items())
