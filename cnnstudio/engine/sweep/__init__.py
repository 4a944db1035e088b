"""Sweeps on Optuna (DESIGN.md §8): a study over a project's search space (project/sweep.py) in
an RDB storage that several processes or machines share; every trial is a run of the project.
study.py builds the storage, sampler and pruner; objective.py runs one trial; runner.py runs the
workers and records the trials' runs in the project."""
