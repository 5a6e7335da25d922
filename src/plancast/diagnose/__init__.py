"""Plan-vs-projection diagnosis: planning vs execution variance, capacity signals and flags."""

from .run import LEVELS, Diagnosis, diagnose
from .variance import DRIVERS

__all__ = ["DRIVERS", "LEVELS", "Diagnosis", "diagnose"]
