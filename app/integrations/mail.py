"""SMTP delivery (multipart text + HTML). Settings: SMTP_HOST, SMTP_PORT, SMTP_STARTTLS,
SMTP_USERNAME, SMTP_PASSWORD, MAIL_FROM."""
import smtplib
import socket
from email.message import EmailMessage

from app.errors import TransientError


def build_message(sender, to, subject, text, html):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send(config, message):
    """Send over SMTP; a refused connection or a 4xx from the server is worth retrying."""
    try:
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"],
                          timeout=config["HTTP_TIMEOUT_SECONDS"]) as smtp:
            if config["SMTP_STARTTLS"]:
                smtp.starttls()
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"] or "")
            smtp.send_message(message)
    except (OSError, socket.timeout, smtplib.SMTPServerDisconnected,
            smtplib.SMTPConnectError) as error:
        raise TransientError(f"The mail server could not be reached: {error}") from error
    except smtplib.SMTPResponseException as error:
        if 400 <= error.smtp_code < 500:
            raise TransientError(f"The mail server asked to try later ({error.smtp_code})")
        raise
