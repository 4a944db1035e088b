"""The application (Qt). Importing it first sets up the process for training on a thread."""

from .malloc import one_arena

one_arena()
