"""Salesforce Developer Edition demo-org export (../shared/data/salesforce_dev_org_demo_export): refused as
it is (30 of 31 deals "close" before CreatedDate, the org's creation time), loaded visibly with the
close-before-create policy, on both engines.

Expected figures are worked out here from the raw CSVs with plain pandas. Skipped when the shared data
folder is absent.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import SHARED_DATA
from plancast.calendar import fiscal_year_periods
from plancast.errors import BadInput
from plancast.importer import import_file
from plancast.ingest import read
from plancast.store import Store
from test_cli import run

SF = SHARED_DATA / "salesforce_dev_org_demo_export"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not SF.is_dir(), reason=f"shared data folder {SF} is absent (see SOURCE.md there)"),
]


def _raw(name: str) -> pd.DataFrame:
    return pd.read_csv(SF / name, dtype=str, keep_default_na=False)


def test_salesforce_demo_org_loads_with_the_clamp_policy(capsys, engine_db) -> None:
    opps, accounts = _raw("opportunity.csv"), _raw("account.csv")
    with Store(engine_db) as store:
        store.add_periods(fiscal_year_periods(2023, 1))
        acc = import_file(store, "accounts", SF / "account.csv", preset="salesforce")
        reps = import_file(store, "reps", SF / "opportunity.csv", preset="salesforce")
        with pytest.raises(BadInput) as refused:
            import_file(store, "opportunities", SF / "opportunity.csv", preset="salesforce")
        assert len(refused.value.problems) == 30 and "--close-before-create clamp" in refused.value.hint
        report = import_file(store, "opportunities", SF / "opportunity.csv", preset="salesforce",
                             close_before_create="clamp")
        import_file(store, "opportunity_history", SF / "OpportunityHistory.csv", preset="salesforce")
    db = ["--db", engine_db]

    created = pd.to_datetime(opps["CreatedDate"]).dt.normalize()
    close = pd.to_datetime(opps["CloseDate"])
    before = close < created
    closed = opps["IsClosed"] == "1"
    source = str(SF / "opportunity.csv")
    assert f"{source}: {before.sum()} deals have a CloseDate before CreatedDate ({(before & closed).sum()} closed, " \
           f"{(before & ~closed).sum()} open): CreatedDate was set to CloseDate (--close-before-create clamp), so " \
           "their sales cycle reads as 0 days" in report.warnings
    assert (before.sum(), (before & closed).sum()) == (30, 18)
    # the null id in ParentId (every account) is read as blank, and said so; blank countries are counted
    sentinel = (accounts == "000000000000000AAA").sum()
    assert f"{SF / 'account.csv'}: {sentinel['ParentId']} cells held the null id 000000000000000AAA ('ParentId' " \
           f"{sentinel['ParentId']}): read as blank" in acc.warnings
    no_country = int((accounts["BillingCountry"] == "").sum())
    assert any(w.endswith(f"{no_country} accounts have no BillingCountry: kept blank (country is kept as written, so "
                          "assignment rules on country do not place them)") for w in acc.warnings)
    assert any("reps are the distinct OwnerId values of this export" in w for w in reps.warnings)

    _, out, _ = run(capsys, *db, "status", "--json")
    tables = json.loads(out)["tables"]
    assert (tables["opportunity"], tables["account"], tables["rep"], tables["opportunity_history"]) == (
        len(opps), len(accounts), opps["OwnerId"].nunique(), len(_raw("OpportunityHistory.csv"))) == (31, 13, 1, 62)

    _, out, _ = run(capsys, *db, "show", "opportunities", "--limit", "0", "--json")
    stored = pd.DataFrame(json.loads(out)["rows"]).set_index("opportunity_id")
    raw = opps.set_index("Id")
    # clamped deals start on their close date; the one deal created before its close date keeps it
    want_created = created.where(~before, close).set_axis(raw.index).dt.strftime("%Y-%m-%d")
    assert stored["created_date"].to_dict() == want_created.to_dict()
    # win rate: every closed deal of the demo org is won (there is no Closed Lost)
    assert stored["is_won"].sum() / stored["is_closed"].sum() == (raw["IsWon"] == "1").sum() / closed.sum() == 1.0
    # closed-won in 2023Q3 (July-September), for the one owner
    q3 = raw[(raw["StageName"] == "Closed Won") & (close.set_axis(raw.index) >= "2023-07-01")
             & (close.set_axis(raw.index) < "2023-10-01")]
    expected = pd.to_numeric(q3["Amount"]).sum()
    assert expected == 1_825_000
    # (not through plancast forecast: it divides by 1 - win rate, which is 0 in this org — reported)
    closes = pd.to_datetime(stored["close_date"])
    got = stored.loc[stored["is_won"] & (closes >= "2023-07-01") & (closes < "2023-10-01"), "amount"].sum()
    assert got == expected


def test_close_before_create_policies_are_pinned() -> None:
    source = str(SF / "opportunity.csv")
    skipped = read(source, "opportunities", preset="salesforce", close_before_create="skip")
    assert skipped.frame["opportunity_id"].tolist() == ["006Hp000015Yh8BIAS"]  # the only CloseDate after creation
    assert f"{source}: 30 deals have a CloseDate before CreatedDate (18 closed, 12 open): left out " \
           "(--close-before-create skip)" in skipped.warnings
    with pytest.raises(BadInput) as info:
        read(source, "opportunities", preset="salesforce")
    assert str(info.value.problems[0]) == (
        f"{source}, row 2, column 'CloseDate', value '2023-09-06 00:00:00': is before CreatedDate 2023-10-28; a "
        "deal cannot close before it was created — fix either date")
    assert info.value.hint == (
        "fix the dates listed and import the file again; if CreatedDate is when the records were loaded rather than "
        "when the deals began (a migrated or demo org), import with --close-before-create clamp (the creation date "
        "becomes the close date) or skip (those deals are left out); nothing was imported")
    with pytest.raises(BadInput) as info:
        read(source, "opportunities", preset="salesforce", close_before_create="ignore")
    assert [str(p) for p in info.value.problems] == [
        f"{source}, value 'ignore': is not a close-before-create policy; use refuse, clamp, skip"]
