"""get_site_survey (issue 7)"""


class SurveysMixin:
    pass
