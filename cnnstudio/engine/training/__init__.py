"""Training: the Trainer (a generator of events), the Session that runs it for the window and
the command line, and what a run is made of (optimizers, schedules, losses, transfer, the
learning-rate range test, evaluation, distributed set-up)."""
