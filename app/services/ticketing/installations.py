"""schedule_installation, cancel_appointment, technician availability (issue 7)"""


class InstallationsMixin:
    pass
