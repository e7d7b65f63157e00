"""`when:` predicates for the run-scheduled tests."""


def never() -> bool:
    return False


def always() -> bool:
    return True


CALLS: list[int] = []


def counting() -> bool:
    """A stateful predicate: counts its calls (only the scheduler that won an occurrence may call it)."""
    CALLS.append(1)
    return True
