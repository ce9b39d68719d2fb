"""Backtest of the month-end forecast and the spend-anomaly detector on the demo history.

```bash
.venv/bin/python -m bench.finance_backtest          # 91 demo days ending 2026-10-31 23:30 UTC
.venv/bin/python -m bench.finance_backtest --days 30 --now 2026-11-29T18:00:00Z
```

It makes a fresh database (``BENCH_DATABASE_URL``'s server), starts the real collector, sends
the demo traffic through the real SDK (``cli.demo.DemoTraffic`` with a fixed clock and seed, so
every run sees the same history), then, for every month the history covers and every cut-off
day in it, forecasts the month end from the rollups known that day and compares it with what
the month really cost; and runs the anomaly detector over every day that has two weeks of
history. It prints the markdown tables docs/finance.md quotes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
from psycopg import sql
from sqlalchemy.orm import Session, sessionmaker

from bench.ingest_servers import (
    ADMIN_URL,
    ROOT,
    collector,
    free_port,
    fresh_database,
    running,
    url_for,
)
from core import anomalies, keys
from core.db import make_engine, make_session_factory
from core.forecast import HISTORY_DAYS, daily_costs, forecast_period
from core.migrate import upgrade
from core.settings import Settings

DEFAULT_NOW = "2026-10-31T23:30:00+00:00"
PEPPER = "bench"
PROJECT = "backtest"


def send_demo(endpoint: str, api_key: str, days: int, now: datetime, seed: int = 7) -> int:
    """Send ``days`` of demo traffic ending at ``now`` through the SDK; the traces sent."""
    import tokentrail

    from cli.demo import DemoTraffic

    tokentrail.configure(endpoint=endpoint, api_key=api_key, service="demo")
    try:
        return DemoTraffic(days, seed, now).run()
    finally:
        tokentrail.shutdown(timeout=30)


def send_demo_process(endpoint: str, api_key: str, days: int, now: datetime) -> None:
    """:func:`send_demo` in a child process (the SDK's global state stays out of the caller)."""
    command = [sys.executable, "-m", "bench.finance_backtest", "send", "--endpoint", endpoint,
               "--api-key", api_key, "--days", str(days), "--now", now.isoformat()]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True, timeout=3600)


@dataclass(frozen=True)
class Cut:
    month: date
    cut: date
    actual: Decimal
    expected: Decimal
    naive: Decimal
    low: Decimal
    high: Decimal
    low_95: Decimal
    high_95: Decimal

    @property
    def in80(self) -> bool:
        return self.low <= self.actual <= self.high

    @property
    def in95(self) -> bool:
        return self.low_95 <= self.actual <= self.high_95

    @property
    def width80(self) -> float:
        return float((self.high - self.low) / self.expected)

    @property
    def ape(self) -> float:
        return abs(float(self.expected - self.actual)) / float(self.actual)

    @property
    def naive_ape(self) -> float:
        return abs(float(self.naive - self.actual)) / float(self.actual)


def month_end(start: date) -> date:
    return (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def backtest(factory: sessionmaker[Session], project_id: int, first: date, last: date) -> list[Cut]:
    """Every cut-off day of every whole month within ``first``..``last``."""
    cuts = []
    month = first if first.day == 1 else month_end(first) + timedelta(days=1)
    while month_end(month) <= last:
        end = month_end(month)
        with factory() as session:
            daily = daily_costs(session, project_id, start=month - timedelta(HISTORY_DAYS),
                                end=end)  # fmt: skip
        daily = [(d, c) for d, c in daily if d >= first]
        actual = sum((c for d, c in daily if d >= month), Decimal(0))
        for day in range(1, end.day):
            cut = month.replace(day=day)
            known = [(d, c) for d, c in daily if d <= cut]
            f = forecast_period(known, period_start=month, period_end=end, today=cut)
            naive = f.spent / day * end.day
            cuts.append(Cut(month, cut, actual, f.expected_total, naive, f.low, f.high,
                            f.low_95, f.high_95))  # fmt: skip
        month = end + timedelta(days=1)
    return cuts


def _row(label: str, cuts: list[Cut]) -> str:
    if not cuts:
        return f"| {label} | 0 | – | – | – | – | – |"
    mape = statistics.mean(c.ape for c in cuts) * 100
    naive = statistics.mean(c.naive_ape for c in cuts) * 100
    cover80 = sum(c.in80 for c in cuts) / len(cuts) * 100
    cover95 = sum(c.in95 for c in cuts) / len(cuts) * 100
    width = statistics.median(c.width80 for c in cuts) * 100
    return (f"| {label} | {len(cuts)} | {mape:.1f} % | {naive:.1f} % | {cover80:.0f} % | "
            f"{cover95:.0f} % | ±{width / 2:.1f} % |")  # fmt: skip


def without_spikes(cuts: list[Cut], findings: list[anomalies.Finding]) -> list[Cut]:
    """The cut-offs before a detected spike, judged against the month minus its excess: how
    the forecast does on the ordinary part of the month, which is all it can know."""
    out = []
    for f in (f for f in findings if f.dimension == anomalies.TOTAL):
        for c in cuts:
            if c.month <= f.day <= month_end(c.month) and c.cut < f.day:
                out.append(replace(c, actual=c.actual - f.excess))
    return out


def report_forecast(cuts: list[Cut], ordinary: list[Cut]) -> str:
    lines = ["| cut-offs | n | MAPE | naive run-rate MAPE | 80 % covered | 95 % covered | "
             "median 80 % half-width |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for month in sorted({c.month for c in cuts}):
        of_month = [c for c in cuts if c.month == month]
        lines.append(_row(f"{month:%B %Y} (actual ${of_month[0].actual:.2f})", of_month))
    for low, high in ((1, 7), (8, 14), (15, 21), (22, 31)):
        lines.append(_row(f"days {low}–{high}", [c for c in cuts if low <= c.cut.day <= high]))
    lines.append(_row("all", cuts))
    if ordinary:
        lines.append(_row("cut-offs before the spike, vs the month without its excess", ordinary))
    return "\n".join(lines)


def report_anomalies(findings: list[anomalies.Finding], judged: int) -> str:
    lines = [f"Days judged: {judged}; findings: {len(findings)}.", "",
             "| day | series | actual | expected | drivers |", "|---|---|---|---|---|"]  # fmt: skip
    for f in findings:
        drivers = ", ".join(f"{c.dimension} {c.value} ({c.share:.0%})" for c in f.drivers())
        series = f.dimension if f.dimension == anomalies.TOTAL else f"{f.dimension} {f.value}"
        lines.append(f"| {f.day} | {series} | ${f.actual:.2f} | ${f.expected:.2f} | {drivers} |")
    return "\n".join(lines)


def load(url: str, days: int, now: datetime) -> None:
    """Migrate ``url`` and fill it with the demo traffic, sent through the real collector."""
    upgrade(url)
    engine = make_engine(Settings(database_url=url, key_pepper=PEPPER), pool_size=1)
    try:
        with make_session_factory(engine).begin() as session:
            project = keys.create_project(session, PROJECT)
            secret = keys.create_key(session, project, ("ingest",), PEPPER).secret
    finally:
        engine.dispose()
    port = free_port()
    command, env, ready = collector(url, port)
    with running(command, env, ready):
        send_demo_process(f"http://127.0.0.1:{port}", secret, days, now)


def measure(url: str, days: int, now: datetime) -> str:
    """The forecast backtest and the anomaly scan over a loaded demo history, as markdown."""
    engine = make_engine(Settings(database_url=url, key_pepper=PEPPER), pool_size=2)
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            project_id = keys.get_project(session, PROJECT).id
        first = (now - timedelta(days=days)).date()
        cuts = backtest(factory, project_id, first, now.date())
        lookback = days - anomalies.MIN_HISTORY_DAYS
        with factory() as session:
            findings = anomalies.detect(session, project_id, now=now, lookback_days=lookback)
    finally:
        engine.dispose()
    return (f"Demo history: {days} days ending {now.isoformat()}, seed 7.\n\n"
            f"### Forecast backtest\n\n{report_forecast(cuts, without_spikes(cuts, findings))}\n\n"
            f"### Anomalies\n\n{report_anomalies(findings, lookback)}\n")  # fmt: skip


def run(days: int, now: datetime, keep: str | None) -> str:
    """Load the demo into a fresh database (or reuse the kept one ``keep``) and measure."""
    if keep:
        try:
            create = not _has_project(url_for(keep))
        except psycopg.OperationalError:
            create = True
        if create:
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(keep))
                )
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(keep)))
            load(url_for(keep), days, now)
        return measure(url_for(keep), days, now)
    with fresh_database(f"tt_finance_backtest_{uuid.uuid4().hex[:8]}") as url:
        load(url, days, now)
        return measure(url, days, now)


def _has_project(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM projects WHERE name = %s", (PROJECT,)).fetchone()
        return bool(row and row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    send = sub.add_parser("send", help="send demo traffic to a running collector")
    send.add_argument("--endpoint", required=True)
    send.add_argument("--api-key", required=True)
    for p in (parser, send):
        p.add_argument("--days", type=int, default=91)
        p.add_argument("--now", default=DEFAULT_NOW, help="ISO 8601 end of the history")
    parser.add_argument(
        "--keep", metavar="DATABASE", help="load into this database once and reuse it on later runs"
    )
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00")).astimezone(UTC)
    if args.command == "send":
        send_demo(args.endpoint, args.api_key, args.days, now)
        return
    sys.stdout.write(run(args.days, now, args.keep))


if __name__ == "__main__":
    main()
