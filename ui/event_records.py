"""Releases what gradio 5.50's queue keeps about each finished event. Its `Queue` files every
event in ``event_ids_to_events`` (with the request and its input data) and ``event_analytics``,
and the server app files each event id in ``iterators_to_reset``; nothing removes them, so a
studio grows by about 20 KiB per event for as long as it runs (gradio fixed this after 5.50, in
its 6.x line, which LLaMA-Factory 0.9.5 does not allow). There is no setting for it: after each
event is processed, `forget_finished` drops the records of events that are no longer queued,
running or awaited by their page."""

from __future__ import annotations

import functools
from typing import Any


def release_finished_events(queue: Any) -> None:
    """Make ``queue`` (a started app's ``demo._queue``) forget each event once it is done."""
    if getattr(queue, "_lorastudio_releases", False):
        return
    process = queue.process_events

    @functools.wraps(process)
    async def process_events(*args: Any, **kwargs: Any) -> None:
        try:
            await process(*args, **kwargs)
        finally:
            forget_finished(queue)

    queue.process_events = process_events  # the queue calls it through the instance
    queue._lorastudio_releases = True


def forget_finished(queue: Any) -> int:
    """Drop the records of every event that is not queued, running, or still awaited by its
    page (its stream removes it from ``pending_event_ids_session`` once the page has the
    result; a closed page awaits nothing); returns how many were dropped. Runs on the server's
    event loop, as gradio's own changes to these records do."""
    waiting = queue.event_queue_per_concurrency_id.values()
    working = {event._id for line in waiting for event in line.queue}
    working |= {event._id for job in queue.active_jobs if job for event in job}
    app = queue.server_app
    awaited: set[str] = set()
    for session, pending in list(queue.pending_event_ids_session.items()):
        if _closed(app, session):
            pending.difference_update(pending - working)  # no page will ever read them
        awaited |= pending
    busy = working | awaited
    done = [event_id for event_id in list(queue.event_ids_to_events) if event_id not in busy]
    for event_id in done:
        queue.event_ids_to_events.pop(event_id, None)
        queue.event_analytics.pop(event_id, None)
        if app is not None:
            app.iterators_to_reset.discard(event_id)
    return len(done)


def _closed(app: Any, session: str) -> bool:
    """Whether the page of ``session`` has gone (gradio marks it when its heartbeat stops)."""
    state = app.state_holder.session_data.get(session) if app is not None else None
    return bool(getattr(state, "is_closed", False))
