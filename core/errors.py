"""Domain errors. The collector maps them to HTTP status codes in one place."""

from __future__ import annotations


class TokenTrailError(Exception):
    """Base of every error TokenTrail raises on purpose."""


class ConfigurationError(TokenTrailError):
    """The server was started with settings it cannot work with."""


class NotFoundError(TokenTrailError):
    """The object does not exist in the caller's project."""


class AuthenticationError(TokenTrailError):
    """No key, an unknown key or a revoked key."""


class PermissionDeniedError(TokenTrailError):
    """A valid key without the scope the operation needs."""


class InvalidInputError(TokenTrailError):
    """The request cannot be decoded or violates a contract; retrying will not help."""


class PayloadTooLargeError(InvalidInputError):
    """The body is over a size limit, before or after decompression."""


class UnsupportedMediaTypeError(InvalidInputError):
    """The request's content type is not one the endpoint understands."""


class UnavailableError(TokenTrailError):
    """A transient condition (database down, pool exhausted, overload); retry later."""


class RateLimitedError(TokenTrailError):
    """Over a quota or a rate limit; ``retry_after_s`` says when a retry can succeed."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
