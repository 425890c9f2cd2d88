"""Errors a user caused or can fix: bad input, missing data, an unknown model, or an app that is
not in the state a command needs. The CLI prints any of them as one line and exits 1; the API
answers them with a 4xx and the message.

Each category also derives from the builtin that callers outside Starling would catch for it
(bad input is a ValueError, missing data a FileNotFoundError, an unknown name a LookupError).
Errors that are Starling's own fault stay plain exceptions and keep their traceback.
"""

from __future__ import annotations


class StarlingError(Exception):
    """Base of every error whose message alone tells the user what to do."""


class InvalidInputError(StarlingError, ValueError):
    """Input that breaks a rule: a malformed source, an event, a setting, a request."""


class MissingDataError(StarlingError, FileNotFoundError):
    """A step's input does not exist yet; the message names the step that makes it."""


class UnknownModelError(StarlingError, LookupError):
    """A model name or version the registry (or a model zoo) does not have."""


class UnknownNameError(StarlingError, LookupError):
    """Another name that is not known: a deployment, an A/B variant."""


class AppStateError(StarlingError, RuntimeError):
    """The app or the runtime is not in the state the command needs (not running, not deployed,
    not settled, nothing to serve)."""
