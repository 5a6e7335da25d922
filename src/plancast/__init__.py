"""plancast: territory planning and attainment forecasting as one system."""

__version__ = "0.1.0"
