"""Demo data that tells a story (issue 2). Idempotent."""


def seed_demo_data():
    pass

# (portal, email, password, what this login shows), printed by `make run`, listed in README.
DEMO_LOGINS = []
