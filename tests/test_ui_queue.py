"""The queue in the studio, without a browser: Start on a busy device queues the run and says
where it stands; the Runs tab lists the queue in order, each queued row with its place, and
cancels a queued run or moves it up (the buttons only for a run they can act on); everything
in English and Chinese. The browser test is in test_queue_e2e."""

from __future__ import annotations

import pytest
from conftest import tiny_recipe
from fake_runs import queued_fake_run, wait_for
from test_occupancy import live_run
from test_ui_runs import Tabs, row_of

from lorastudio.errors import RunError
from lorastudio.runs import queue as run_queue
from lorastudio.runs.status import RunState, read_status, update_status
from ui import live


@pytest.fixture
def tabs(tmp_path) -> Tabs:
    return Tabs(tmp_path)


@pytest.fixture
def queue(tabs: Tabs):
    """A live run on the CPU (this test process) and two runs queued behind it."""
    adapters = tabs.config.workspace.adapters_dir
    busy = live_run(adapters, "busy", "cpu")
    return busy, queued_fake_run(adapters, "first"), queued_fake_run(adapters, "second")


def interactive(update) -> bool:
    return update["interactive"]


def test_the_runs_tab_lists_the_queue_in_order_with_each_place(tabs: Tabs, queue):
    busy, first, second = queue
    shown = tabs.runs.listing("en")
    text = shown[tabs.runs.tab.queue]["value"]
    assert shown[tabs.runs.tab.queue]["visible"]
    assert text.index(first.name) < text.index(second.name)
    assert f"1st · `{first.name}` · cpu" in text and f"2nd · `{second.name}` · cpu" in text
    assert row_of(tabs, first.name)["Status"] == "queued (1st)"
    assert row_of(tabs, second.name)["Status"] == "queued (2nd)"
    assert row_of(tabs, busy.name)["Status"] == "running"

    chinese = tabs.runs.listing("zh")
    assert "第 2 位" in chinese[tabs.runs.tab.queue]["value"]
    assert "排队中（第 2 位）" in chinese[tabs.runs.tab.table].to_string()


def test_the_queue_is_hidden_when_no_run_waits(tabs: Tabs):
    tabs.run("done", "succeeded")
    assert not tabs.runs.listing("en")[tabs.runs.tab.queue]["visible"]


def test_cancel_and_move_up_are_offered_only_for_runs_they_can_act_on(tabs: Tabs, queue):
    busy, first, second = queue
    tab = tabs.runs.tab
    opened = {run: tabs.runs.listing("en", run.name) for run in queue}
    assert not interactive(opened[busy][tab.dequeue]) and not interactive(opened[busy][tab.move_up])
    assert interactive(opened[first][tab.dequeue]) and not interactive(opened[first][tab.move_up])
    assert interactive(opened[second][tab.dequeue]) and interactive(opened[second][tab.move_up])


def test_move_up_puts_the_run_first_and_says_where_it_stands(tabs: Tabs, queue):
    _, first, second = queue
    shown = tabs.runs.move_up("en", second.name)
    assert shown[tabs.runs.tab.message] == (
        f"Run {second.name} is now queued, 1st in line for cpu."
    )
    text = shown[tabs.runs.tab.queue]["value"]
    assert text.index(second.name) < text.index(first.name)
    with pytest.raises(RunError) as refused:  # the page shows it (ui.messages.guarded)
        tabs.runs.move_up("zh", second.name)
    assert second.name in refused.value.text("zh") and "第一位" in refused.value.text("zh")


def test_cancel_takes_a_run_out_of_the_queue_for_good(tabs: Tabs, queue):
    _, first, second = queue
    shown = tabs.runs.dequeue("en", first.name)
    assert shown[tabs.runs.tab.message] == (
        f"Cancelled {first.name}: it left the queue and never starts."
    )
    assert read_status(first).state is RunState.CANCELLED
    assert first.name not in shown[tabs.runs.tab.queue]["value"]
    assert row_of(tabs, first.name)["Status"] == "cancelled"
    assert row_of(tabs, second.name)["Status"] == "queued (1st)"
    assert not interactive(shown[tabs.runs.tab.dequeue])  # nothing left to cancel


def test_start_on_a_busy_cpu_queues_the_run_and_says_where_it_stands(tabs: Tabs, tiny_model):
    busy = live_run(tabs.config.workspace.adapters_dir, "busy", "cpu")
    watch = live.Watch()
    for lang, words in (("en", "is queued, 1st in line for cpu"), ("zh", "排第 1 位")):
        shown = tabs.train.start(lang, tiny_recipe(tiny_model, name="next"), watch)
        message = shown[tabs.train.tab.message]
        assert words in message, message
        if lang == "en":
            assert "starts by itself" in message and "Runs tab" in message
            tabs.runs.dequeue("en", message.split()[1])  # the next one is 1st again
    assert watch.monitor is None  # the live view keeps showing the run ahead
    assert read_status(busy).state is RunState.RUNNING
    waiting = run_queue.waiting_runs(tabs.config.workspace.adapters_dir)
    assert len(waiting) == 1 and "-next" in waiting[0].run_dir.name


def test_the_studio_serves_the_queue_at_most_every_few_seconds(tabs: Tabs, queue):
    busy, first, second = queue
    adapters = tabs.config.workspace.adapters_dir
    keeper = run_queue.Keeper(adapters, every=3600)
    assert keeper.maybe_kick() == []  # the CPU is busy
    update_status(busy, state="succeeded")
    assert keeper.maybe_kick() == []  # asked again too soon: it does not even look
    assert read_status(first).state is RunState.QUEUED

    assert run_queue.Keeper(adapters, every=3600).maybe_kick() == [first]
    for run_dir in (first, second):  # the first hands over to the second as it ends
        wait_for(lambda run_dir=run_dir: read_status(run_dir).state is RunState.SUCCEEDED)
