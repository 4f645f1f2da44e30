"""Static check of every definition at start-up (issue 3)."""


def validate_all():
    pass
