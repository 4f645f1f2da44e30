"""issue_license, revoke_license, signing and verification (issue 4)"""


class IssuingMixin:
    pass
