"""Errors that domain services raise and every interface turns into words."""


class RefusedChange(Exception):
    """A state change the rules do not allow; the message is a sentence for a person.

    The REST API answers it with 409 and ``{"detail": <message>}``.
    """
