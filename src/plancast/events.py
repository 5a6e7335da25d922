"""Shared by the process generators (the worked scenario and the forecast simulator)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def ordered_events(
    ev_opp: list[np.ndarray], ev_day: list[np.ndarray], ev_ord: list[np.ndarray],
    ev_stage: list[np.ndarray], ev_close: list[np.ndarray], until_day: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stage-history events of many deals, sorted by deal, day and order, cut after ``until_day``.

    Stage and expected close date are carried forward within a deal (each deal's
    first event, its creation, sets both, so a plain forward fill stays inside the
    deal). Returns (deal, day, stage code, close day, sequence number in the deal)."""
    e_opp, e_day, e_ord = (np.concatenate(x) for x in (ev_opp, ev_day, ev_ord))
    e_stage, e_close = np.concatenate(ev_stage), np.concatenate(ev_close)
    srt = np.lexsort((e_ord, e_day, e_opp))
    e_opp, e_day, e_stage, e_close = e_opp[srt], e_day[srt], e_stage[srt], e_close[srt]
    e_stage = pd.Series(e_stage).ffill().to_numpy().astype(np.int64)
    e_close = pd.Series(e_close).ffill().to_numpy().astype(np.int64)
    seq = np.arange(len(e_opp)) - np.searchsorted(e_opp, e_opp, side="left")
    seen = e_day <= until_day
    return e_opp[seen], e_day[seen], e_stage[seen], e_close[seen], seq[seen]
