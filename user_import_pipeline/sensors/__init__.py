"""The sensors of the code location: the file drop and the reaper of orphaned jobs."""

import warnings

import dagster as dg

# Dagster 1.13's own @sensor passes its beta `owners` parameter, which warns at every load
# of the code location; the warning is about Dagster's code, not ours.
warnings.filterwarnings(
    "ignore", message="Parameter `owners` of initializer `SensorDefinition", category=dg.BetaWarning
)
