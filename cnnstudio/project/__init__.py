"""Project files (DESIGN.md §3.5) and the dataset/training configuration. Imports neither Qt
nor torch: a project can be opened, checked and listed without loading the engine."""

from .archive import ProjectError, load_project, read_project_bytes, save_project
from .config import (
    Augmentation,
    ConfigError,
    DatasetConfig,
    LossConfig,
    OptimizerConfig,
    ScheduleConfig,
    TrainConfig,
    TransferConfig,
    UnfreezeStep,
)
from .model import Checkpoint, EpochRecord, Project, Run

__all__ = [
    "Augmentation", "Checkpoint", "ConfigError", "DatasetConfig", "EpochRecord", "LossConfig",
    "OptimizerConfig", "Project", "ProjectError", "Run", "ScheduleConfig", "TrainConfig",
    "TransferConfig", "UnfreezeStep", "load_project", "read_project_bytes", "save_project",
]
