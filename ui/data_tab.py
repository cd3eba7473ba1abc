"""The Data tab: upload a file (drag and drop), see the layout LoRA Studio recognised and the
column/role mapping it proposes, correct it, preview the first rows as the model will see them
(the trained part marked) with the token counts and a histogram against the cutoff, add it, put
it in the recipe (with a validation split), and list or delete the registered datasets. Every
callback is a thin call into lorastudio.data."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from lorastudio.data import reader
from lorastudio.data.formats import FORMATS
from ui import data_view
from ui.config import StudioConfig
from ui.data_actions import DataActions
from ui.labels import Labels
from ui.locale import t
from ui.messages import guarded
from ui.train_tab import TrainActions

FIELDS = (*data_view.COLUMN_FIELDS, *data_view.TAG_FIELDS)
CSS = """
.ls-preview .ls-row { margin-bottom: 10px; }
.ls-preview .ls-row-head { font-size: 0.85em; color: var(--body-text-color-subdued); }
.ls-preview pre { white-space: pre-wrap; margin: 2px 0; font-size: 0.85em; }
.ls-preview mark.ls-trained { background: #dcfce7; color: #14532d; }
"""


@dataclass
class DataTab:
    upload: gr.File
    error: gr.Markdown  # beside the upload: why a file was refused
    recognised: gr.Markdown
    fmt: gr.Dropdown
    fields: dict[str, gr.components.Component]  # LLaMA-Factory column or tag -> its widget
    name: gr.Textbox
    cutoff: gr.Number
    rows: gr.HTML
    stats: gr.Markdown
    histogram: gr.BarPlot
    add: gr.Button
    val_size: gr.Slider
    use: gr.Button
    message: gr.Markdown
    added: gr.State  # the ref of the dataset added last (name@hash)
    table: gr.Dataframe
    pick: gr.Dropdown
    delete: gr.Button
    confirm_row: gr.Row
    confirm_text: gr.Markdown
    confirm: gr.Button

    def mapping_inputs(self) -> list:
        return [self.fmt, *self.fields.values()]

    def mapping_outputs(self) -> list:
        return [self.fmt, *self.fields.values(), self.error]

    def preview_outputs(self) -> list:
        return [self.rows, self.stats, self.histogram, self.error]


def _mapping_form(labels: Labels) -> tuple[gr.Dropdown, dict]:
    fmt = labels.make(
        gr.Dropdown,
        {"label": "datatab.format", "info": "datatab.format_info"},
        choices=list(FORMATS),
        value=None,
        elem_id="data-format",
    )
    fields: dict[str, gr.components.Component] = {}
    with gr.Row():
        for name in data_view.COLUMN_FIELDS:
            fields[name] = labels.make(
                gr.Dropdown,
                {"label": f"datatab.map.{name}"},
                choices=[],
                allow_custom_value=True,
                visible=False,
                min_width=140,
                elem_id=f"data-map-{name}",
            )
    with gr.Row():
        for name in data_view.TAG_FIELDS:
            fields[name] = labels.make(
                gr.Textbox,
                {"label": f"datatab.map.{name}"},
                visible=False,
                min_width=120,
                elem_id=f"data-map-{name}",
            )
    return fmt, fields


def _preview_section(labels: Labels) -> tuple:
    rows = gr.HTML(elem_id="data-rows")
    with gr.Column():
        stats = gr.Markdown(elem_id="data-stats")
        histogram = labels.make(
            gr.BarPlot,
            {
                "label": "datatab.histogram",
                "x_title": "datatab.tokens",
                "y_title": "datatab.samples",
            },
            value=None,
            x="tokens",
            y="samples",
            color="series",
            color_title=" ",
            elem_id="data-histogram",
        )
    return rows, stats, histogram


def _list_section(labels: Labels) -> tuple:
    labels.make(gr.Markdown, {"value": lambda lang: f"### {t('datatab.list', lang)}"})
    table = gr.Dataframe(
        data_view.table([], labels.lang), interactive=False, wrap=True, elem_id="data-table"
    )
    with gr.Row(equal_height=True):
        pick = labels.make(
            gr.Dropdown, {"label": "datatab.pick"}, choices=[], scale=3, elem_id="data-pick"
        )
        delete = labels.make(
            gr.Button, {"value": "datatab.delete"}, variant="stop", elem_id="data-delete"
        )
    with gr.Row(visible=False, elem_id="data-confirm") as confirm_row:
        confirm_text = gr.Markdown()
        confirm = labels.make(
            gr.Button, {"value": "runs.confirm"}, variant="stop", scale=0, elem_id="data-yes"
        )
    return table, pick, delete, confirm_row, confirm_text, confirm


def _add_section(labels: Labels) -> tuple:
    """Add the file; put it in the recipe, with a validation split."""
    with gr.Row(equal_height=True):
        add = labels.make(
            gr.Button, {"value": "datatab.add"}, variant="primary", elem_id="data-add"
        )
        val_size = labels.make(
            gr.Slider,
            {"label": "datatab.val_size", "info": "datatab.val_size_info"},
            minimum=0.0,
            maximum=0.5,
            step=0.05,
            value=0.0,
            elem_id="data-val-size",
        )
        use = labels.make(
            gr.Button, {"value": "datatab.use"}, interactive=False, elem_id="data-use"
        )
    return add, val_size, use


def build(config: StudioConfig, labels: Labels) -> DataTab:
    """Lay out the Data tab inside the current Blocks context."""
    labels.make(gr.Markdown, {"value": lambda lang: f"### {t('datatab.add_title', lang)}"})
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            upload = labels.make(
                gr.File,
                {"label": "datatab.upload"},
                file_count="single",
                file_types=list(reader.KINDS),
                type="filepath",
                elem_id="data-upload",
            )
            error = gr.Markdown(elem_classes=["field-error"], elem_id="data-error")
            recognised = gr.Markdown(elem_id="data-recognised")
        with gr.Column(scale=5):
            fmt, fields = _mapping_form(labels)
            with gr.Row(equal_height=True):
                name = labels.make(gr.Textbox, {"label": "datatab.name"}, elem_id="data-name")
                cutoff = labels.make(
                    gr.Number,
                    {"label": "datatab.cutoff", "info": "datatab.cutoff_info"},
                    value=None,
                    precision=0,
                    minimum=16,
                    elem_id="data-cutoff",
                )
    rows, stats, histogram = _preview_section(labels)
    add, val_size, use = _add_section(labels)
    message = gr.Markdown(elem_id="data-message")
    listed = _list_section(labels)
    return DataTab(
        upload, error, recognised, fmt, fields, name, cutoff, rows, stats, histogram, add,
        val_size, use, message, gr.State(None), *listed,
    )  # fmt: skip


def wire(
    tab: DataTab, config: StudioConfig, lang: gr.State, train: TrainActions, item: gr.Tab
) -> DataActions:
    """Connect the tab's events. Previews are rendered for the Train tab's recipe, and "Use in
    recipe" puts the added dataset into it."""
    recipe = train.tab.yaml
    act = DataActions(tab, config, train.show)
    _wire_preview(tab, act, lang, recipe)
    listed = [tab.table, tab.pick]
    tab.add.click(
        guarded(tab.error, act.add),
        [lang, tab.upload, tab.name, *tab.mapping_inputs()],
        [*listed, tab.error, tab.message, tab.added, tab.use],
        concurrency_limit=1,
    )
    tab.delete.click(
        guarded(tab.message, act.ask_delete),
        [lang, tab.pick],
        [tab.confirm_row, tab.confirm_text, tab.message],
    )
    tab.confirm.click(
        guarded(tab.message, act.delete),
        [lang, tab.pick],
        [*listed, tab.confirm_row, tab.message],
    )
    shown = [recipe, *train.tab.form.widgets, *train.tab.checked_outputs()]
    tab.use.click(
        guarded(tab.message, act.use),
        [lang, tab.added, tab.val_size, tab.cutoff, recipe],
        list(dict.fromkeys([*shown, tab.message])),
    )
    item.select(guarded(tab.message, act.listing), [lang], listed, show_progress="hidden")
    return act


def _wire_preview(tab: DataTab, act: DataActions, lang: gr.State, recipe: gr.Code) -> None:
    """An upload is recognised, then previewed; a changed layout, column or cutoff previews
    again."""
    quiet = {"show_progress": "hidden"}
    form = tab.mapping_inputs()
    render_inputs = [lang, tab.upload, tab.cutoff, recipe, *form]
    render_out = tab.preview_outputs()
    # Renders run one at a time in the order asked, so the last mapping's preview is the one
    # left on the page (a slow first render never lands over a newer one).
    one_render = {"concurrency_id": "data-render", "concurrency_limit": 1}
    recognised = [*tab.mapping_outputs(), tab.recognised, tab.name, tab.cutoff, tab.message]
    recognised += [tab.rows, tab.stats, tab.histogram]
    tab.upload.upload(
        guarded(tab.error, act.uploaded), [lang, tab.upload, recipe], recognised
    ).then(guarded(tab.error, act.render), render_inputs, render_out, **one_render)
    tab.upload.clear(guarded(tab.error, act.uploaded), [lang, tab.upload, recipe], recognised)
    tab.fmt.input(
        guarded(tab.error, act.reformat),
        [lang, tab.upload, tab.fmt],
        tab.mapping_outputs(),
        **quiet,
    ).then(guarded(tab.error, act.render), render_inputs, render_out, **one_render)
    for widget in [*tab.fields.values(), tab.cutoff]:
        widget.input(guarded(tab.error, act.render), render_inputs, render_out, **one_render)
