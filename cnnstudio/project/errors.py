"""The project package's one error for files: every problem with a project file (a member too
large, a path outside the archive, a pickle where safetensors should be, a newer format) is a
ProjectError whose message names the file or member and what is wrong."""


class ProjectError(ValueError):
    """A project file that cannot be read or written; the message says which file or member
    and what is wrong with it."""
