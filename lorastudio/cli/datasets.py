"""The `data` commands of the CLI: `python launch.py data add|list|check|remove|export|import`
— a team's own data files added (recognised, mapped, checked, stored under their hash,
registered), listed, previewed as the model will see them with their token counts, removed, and
moved between machines as one archive."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TextIO

from lorastudio.data import bundle, ingest, preview, registry
from lorastudio.data.formats import COLUMNS, FORMATS, TAGS, Mapping
from lorastudio.data.problems import DataError
from lorastudio.messages import msg
from lorastudio.recipe.schema import load_recipe
from lorastudio.runs.datasets import remove_dataset
from lorastudio.workspace import Workspace

EXIT_OK = 0
DEFAULT_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"  # the shipped recipes' model
DEFAULT_TEMPLATE = "qwen"
DEFAULT_CUTOFF = 1024


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `data` and its subcommands on the CLI's subcommand parser."""
    data = sub.add_parser(
        "data",
        help="Your own data: add, list, check (preview and token counts), remove, export, import.",
        description="Datasets in the data folder, registered for LLaMA-Factory for you.",
    )
    commands = data.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    add = commands.add_parser(
        "add", help="Add a JSON, JSONL, CSV, Parquet or text file as a dataset (all or nothing)."
    )
    add.add_argument("file", type=Path)
    add.add_argument("--name", help="the dataset's name (default: the file's name)")
    _format_flags(add)
    listed = commands.add_parser("list", help="The registered datasets: rows, layout, size, hash.")
    listed.add_argument("--json", action="store_true", help="machine-readable output")
    check = commands.add_parser(
        "check",
        help="Check a file or dataset: every row, then the first rows as the model sees them "
        "and the token counts against the cutoff (a histogram).",
    )
    check.add_argument("target", help="a data file, or a registered dataset's name")
    check.add_argument("--recipe", type=Path, help="take model, template and cutoff from it")
    check.add_argument(
        "--model", help=f"the model whose tokenizer counts (default {DEFAULT_MODEL})"
    )
    check.add_argument("--template", help=f"chat template (default {DEFAULT_TEMPLATE})")
    check.add_argument("--cutoff", type=int, help=f"data.cutoff_len (default {DEFAULT_CUTOFF})")
    check.add_argument("--stage", choices=["sft", "pt"], help="train.stage (default sft)")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    _format_flags(check)
    remove = commands.add_parser("remove", help="Remove a dataset (refused while a run uses it).")
    remove.add_argument("name")
    export = commands.add_parser(
        "export", help="Write datasets (or a recipe and all its data) into one archive."
    )
    export.add_argument("names", nargs="*", help="dataset names")
    export.add_argument("--recipe", type=Path, help="a recipe: the archive holds it and its data")
    export.add_argument("-o", "--output", type=Path, help="the archive (default: NAME.lsdata.tar)")
    imported = commands.add_parser("import", help="Add the datasets (and recipe) of an archive.")
    imported.add_argument("archive", type=Path)


def _format_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=["auto", *FORMATS], default="auto", help="the layout (default auto)"
    )
    roles = ", ".join(sorted({c for cs in COLUMNS.values() for c in cs} | set(TAGS)))
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"correct the proposed mapping, e.g. --map system=persona ({roles})",
    )


def _mapping(path: Path, args: argparse.Namespace) -> Mapping:
    """The proposed mapping for a file with the user's --map corrections."""
    mapping = ingest.propose(path, args.format)
    changes = {}
    for pair in args.map:
        key, sep, value = pair.partition("=")
        if not sep or key not in {*COLUMNS[mapping.format], *TAGS}:
            raise DataError.one(
                msg("data.bad_map", pair=pair, keys=", ".join((*COLUMNS[mapping.format], *TAGS))),
                msg("fix.pick_format"),
            )
        changes[key] = value
    return mapping.with_changes(**changes) if changes else mapping


def _notes(checked: ingest.Checked, out: TextIO) -> None:
    for note in checked.notes:
        print(f"note: {note.text()}", file=out)


def cmd_add(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    mapping = _mapping(args.file, args)
    added = ingest.add_dataset(ws, args.file, args.name, mapping, source_name=args.file.name)
    dataset = added.dataset
    print(
        f"added {dataset.ref}: {dataset.rows} rows, {mapping.format}, "
        f"{ingest.human_size(dataset.size or 0)} → {dataset.path}",
        file=out,
    )
    entry = json.dumps(mapping.entry(dataset.file_name or ""), ensure_ascii=False)
    print(f"registered for LLaMA-Factory as: {entry}", file=out)
    _notes(added.checked, out)
    print(f"use it in a recipe as: data.datasets: [{dataset.ref}]", file=out)
    return EXIT_OK


def cmd_list(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    found = registry.datasets(ws)
    if args.json:
        print(json.dumps([d.as_dict() for d in found], indent=2, ensure_ascii=False), file=out)
        return EXIT_OK
    if not found:
        print("no datasets yet; add one with: python launch.py data add FILE", file=out)
        return EXIT_OK
    print(f"{'NAME@HASH':<36} {'FORMAT':<9} {'ROWS':>8} {'SIZE':>9}  ADDED", file=out)
    for d in found:
        rows = str(d.rows) if d.rows is not None else "–"
        size = ingest.human_size(d.size) if d.size is not None else "–"
        added = time.strftime("%Y-%m-%d %H:%M", time.localtime(d.added)) if d.added else "–"
        print(f"{d.ref:<36} {d.mapping.format:<9} {rows:>8} {size:>9}  {added}", file=out)
    return EXIT_OK


def _target(args: argparse.Namespace, ws: Workspace, out: TextIO) -> tuple[Path, Mapping]:
    """A file to check (its mapping proposed, corrected, every row checked) or a dataset."""
    path = Path(args.target)
    if path.is_file():
        mapping = _mapping(path, args)
        checked = ingest.check_file(path, mapping)
        print(f"{path.name}: {checked.rows} rows, {mapping.format}, every row readable", file=out)
        _notes(checked, out)
        return path, mapping
    dataset = registry.find(ws, args.target)
    if dataset.path is None or not dataset.path.is_file():
        raise DataError.one(msg("data.not_a_file", name=dataset.name), msg("fix.data_add"))
    return dataset.path, dataset.mapping


def cmd_check(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    model, template, cutoff, stage = DEFAULT_MODEL, DEFAULT_TEMPLATE, DEFAULT_CUTOFF, "sft"
    trust = False
    if args.recipe:
        recipe = load_recipe(args.recipe)  # only its model, template, cutoff and stage
        model, template = recipe.model.id, recipe.model.template
        cutoff, stage = recipe.data.cutoff_len, recipe.train.stage
        trust = recipe.model.trust_remote_code
    path, mapping = _target(args, ws, out)
    view = preview.preview(
        path,
        mapping,
        ws,
        model_id=args.model or model,
        template=args.template or template,
        cutoff=args.cutoff or cutoff,
        stage=args.stage or stage,
        trust_remote_code=trust,
    )
    if args.json:
        print(json.dumps(view.as_dict(), indent=2, ensure_ascii=False), file=out)
    else:
        print(preview.report_text(view), file=out)
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    dataset = remove_dataset(ws, args.name)
    print(f"removed {dataset.ref}", file=out)
    return EXIT_OK


def cmd_export(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    if args.recipe:
        archive = bundle.export_recipe(ws, args.recipe, args.output)
    elif args.names:
        first = registry.split_ref(args.names[0])[0]
        target = args.output or Path.cwd() / f"{first}.lsdata.tar"
        archive = bundle.export(ws, args.names, target)
    else:
        raise DataError.one(msg("data.export_what"), msg("fix.export_what"))
    print(f"wrote {archive}", file=out)
    return EXIT_OK


def cmd_import(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    done = bundle.import_archive(ws, args.archive)
    for dataset in done.added:
        print(f"added {dataset.ref}: {dataset.rows} rows, {dataset.mapping.format}", file=out)
    for name in done.present:
        print(f"{name}: already registered with the same content", file=out)
    if done.recipe:
        print(f"recipe: {done.recipe}", file=out)
    return EXIT_OK


SUBCOMMANDS = {
    "add": cmd_add,
    "list": cmd_list,
    "check": cmd_check,
    "remove": cmd_remove,
    "export": cmd_export,
    "import": cmd_import,
}


def cmd_data(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    return SUBCOMMANDS[args.data_command](args, ws, out)


COMMANDS = {"data": cmd_data}
