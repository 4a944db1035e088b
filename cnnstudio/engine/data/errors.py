"""The one error of the data package: every problem a user's dataset or data settings can cause
(a missing folder, a corrupt image, a split that leaves a class empty) is a DatasetError whose
message says what to do."""


class DatasetError(ValueError):
    """The data cannot be loaded or used as configured; the message says what to do."""
