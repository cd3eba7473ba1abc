"""The gradio queue's per-event records: gradio 5.50 keeps one set per event for as long as the
server runs; with the studio's release hook, many events leave none behind (counted, not timed)."""

from __future__ import annotations

import json
import uuid

import gradio as gr
import httpx
import pytest

from ui.event_records import release_finished_events


def noop_app() -> gr.Blocks:
    with gr.Blocks() as demo:
        box = gr.Textbox()
        button = gr.Button()
        button.click(lambda: "done", None, box)

        def count():
            yield from ("one", "two")

        box.submit(count, None, box)
    return demo


def fire(url: str, fn_index: int, session: str) -> None:
    """One event as a page sends it: join the queue, read the session's stream to the result."""
    with httpx.Client(base_url=url, timeout=30) as http:
        body = {"data": [], "fn_index": fn_index, "session_hash": session, "event_data": None}
        http.post("gradio_api/queue/join", json=body).raise_for_status()
        params = {"session_hash": session}
        with http.stream("GET", "gradio_api/queue/data", params=params) as stream:
            for line in stream.iter_lines():
                done = line.startswith("data:") and "process_completed" in line
                if done and json.loads(line[5:])["msg"] == "process_completed":
                    return


def records(demo: gr.Blocks) -> dict[str, int]:
    queue = demo._queue
    return {
        "events": len(queue.event_ids_to_events),
        "analytics": len(queue.event_analytics),
        "iterators_to_reset": len(demo.server_app.iterators_to_reset),
    }


@pytest.fixture
def served():
    def serve(hooked: bool) -> gr.Blocks:
        demo = noop_app()
        demo.queue()
        if hooked:
            release_finished_events(demo._queue)
        demo.launch(prevent_thread_lock=True, quiet=True, server_port=None)
        started.append(demo)
        return demo

    started: list[gr.Blocks] = []
    yield serve
    for demo in started:
        demo.close()


def fire_many(demo: gr.Blocks, count: int) -> None:
    session = uuid.uuid4().hex
    for number in range(count):
        fire(demo.local_url, list(demo.fns)[number % 2], session)  # a click, then a generator


def test_without_the_hook_gradio_keeps_a_record_of_every_finished_event(served):
    demo = served(hooked=False)
    fire_many(demo, 6)
    assert records(demo) == {"events": 6, "analytics": 6, "iterators_to_reset": 6}


def test_with_the_hook_many_events_leave_no_records_behind(served):
    demo = served(hooked=True)
    fire_many(demo, 20)
    left = records(demo)
    assert max(left.values()) <= 1, left  # the last event's, until the next one is done


def test_the_studio_releases_its_queues_records(tmp_path):
    from conftest import LF_DATA

    from lorastudio.machine.hardware import Hardware
    from lorastudio.workspace import Workspace
    from ui.app import build_app, queue_events
    from ui.config import StudioConfig

    config = StudioConfig(
        Workspace(tmp_path, LF_DATA, tmp_path / "adapters"), (), Hardware((), (), 2), "en", tmp_path
    )
    demo = queue_events(build_app(config))
    assert demo._queue._lorastudio_releases
