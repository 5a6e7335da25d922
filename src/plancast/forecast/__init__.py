"""Attainment forecasting: calibration from CRM history, simulation and backtests."""
