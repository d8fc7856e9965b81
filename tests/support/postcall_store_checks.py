"""Post-call QA and summary storage that every ticket store back end must show; run on SQLite
(unit) and on a real PostgreSQL server (integration)."""

from __future__ import annotations

from dataclasses import replace

from postcall_calls import bad_call, good_call

from jiesu.engine.postcall.qa import score_call
from jiesu.engine.postcall.rubric import load_rubric
from jiesu.engine.postcall.summary import summarise
from jiesu.engine.storage.base import TicketStore


def check_qa_and_summary_round_trip(store: TicketStore) -> None:
    rubric = load_rubric()
    qa, summary = score_call(bad_call(), rubric), summarise(bad_call())
    assert store.qa_for_call("c1") is None and store.summary_for_call("c1") is None
    store.save_qa("c1", qa)
    store.save_summary("c1", summary)
    assert store.qa_for_call("c1") == qa  # every item, reason and evidence line, Chinese intact
    assert store.summary_for_call("c1") == summary
    # Scoring again replaces (one result per call), other calls are untouched.
    again = score_call(good_call(), rubric)
    store.save_qa("c1", again)
    store.save_summary("c1", replace(summary, handling="已转交"))
    store.save_qa("c2", qa)
    assert store.qa_for_call("c1") == again
    assert store.summary_for_call("c1") == replace(summary, handling="已转交")
    assert store.qa_for_call("c2") == qa and store.summary_for_call("c2") is None
