"""`when:` predicates for the run-scheduled tests."""


def never() -> bool:
    return False


def always() -> bool:
    return True
