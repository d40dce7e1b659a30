"""Errors a user can act on. The CLI prints them as one line and exits non-zero."""


class PipelineError(Exception):
    """Base class: the message names the file or key and the problem."""


class ConfigError(PipelineError):
    """An unknown or ill-typed parameter."""


class InputError(PipelineError):
    """A missing, empty or malformed input file."""
