"""Not written yet."""


def routes():
    return []
