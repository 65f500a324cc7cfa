"""Who is calling: SigV4 request authentication against loam's access keys."""

from loam.auth.authenticator import Authenticator, HttpRequest

__all__ = ["Authenticator", "HttpRequest"]
