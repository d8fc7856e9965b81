"""Post-call work (issue 7): QA of every call against a configurable rubric (全量质检) and an
extractive call summary, both stored with the call and streamed to the supervisor.

* :mod:`.record` — what one call leaves behind (finals, tips, alerts, work-order fields);
* :mod:`.rubric` — the rubric file (``sip_config/qa_rubric.toml``), validated;
* :mod:`.qa` — the pure scorer: record + rubric -> :class:`~jiesu.engine.events.QaResult`;
* :mod:`.summary` — the pure summary: record -> :class:`~jiesu.engine.events.CallSummary`;
* :mod:`.service` — the I/O edge on the event log and the ticket store.
"""
