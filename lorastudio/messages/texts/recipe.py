"""What the core says about a recipe, in English and Chinese: its file (upload, YAML, size,
encoding), `--set` overrides, the rules across fields, and what `lorastudio.checks.validation`
finds against this machine (model, template, `extra`, LLaMA-Factory's managed keys)."""

# fmt: off
TEXTS: dict[str, tuple[str, str]] = {
    # the file (lorastudio.recipe.schema, lorastudio.recipe.text)
    "problem.bad_yaml": ("is not valid YAML at {where}: {reason}", "不是合法的 YAML（{where}）：{reason}"),
    "recipe.at_line": ("line {line}, column {column}", "第 {line} 行第 {column} 列"),
    "recipe.unknown_place": ("unknown place", "位置未知"),
    "recipe.parser_said": ("{text}", "YAML 解析器报告“{text}”"),
    "recipe.duplicate_key": ("the key '{name}' is written twice", "键 '{name}' 写了两次"),
    "fix.yaml_syntax": (
        "fix the YAML syntax there (indentation, a missing ':' or quote)",
        "请修正该处的 YAML 语法（缩进、缺少的冒号或引号）",
    ),
    "problem.not_mapping": ("is not a recipe (expected a mapping of keys)", "不是配方（应为键值映射）"),
    "fix.shipped": ("start from a shipped recipe in recipes/", "请从 recipes/ 中的内置配方开始"),
    "problem.newer_schema": (
        "is newer than this LoRA Studio understands ({version})",
        "比当前 LoRA Studio 支持的版本（{version}）更新",
    ),
    "fix.upgrade": ("upgrade LoRA Studio, or write schema_version: 1", "请升级 LoRA Studio，或写 schema_version: 1"),
    "problem.not_yaml_file": ("is not a YAML file", "不是 YAML 文件"),
    "fix.upload_yaml": ("upload a recipe saved as .yaml or .yml", "请上传 .yaml 或 .yml 格式的配方"),
    "problem.too_big": (
        "is {size} MiB, too big to be a recipe (limit {limit} MiB)",
        "有 {size} MiB，太大了，不可能是配方（上限 {limit} MiB）",
    ),
    "fix.upload_small": (
        "upload the recipe YAML itself, not a model, adapter or data file",
        "请上传配方 YAML 本身，而不是模型、适配器或数据文件",
    ),
    "problem.not_utf8": ("is not UTF-8 text", "不是 UTF-8 文本"),
    "fix.utf8": ("save the recipe as UTF-8", "请把配方保存为 UTF-8 编码"),
    "problem.no_schema_version": ("is not a recipe (it has no schema_version)", "不是配方（没有 schema_version）"),
    "fix.start_from_shipped": (
        "start from a shipped recipe; a recipe begins with `schema_version: 1`",
        "请从内置配方开始；配方以 `schema_version: 1` 开头",
    ),
    "problem.not_regular_file": (
        "is not a regular file (a pipe, socket or device cannot be a recipe)",
        "不是普通文件（管道、套接字或设备不能作为配方）",
    ),
    "fix.recipe_small": (
        "keep only the recipe's settings in it (data belongs in data files)",
        "配方里只保留设置（数据应放在数据文件中）",
    ),
    # the limits every recipe text is read within (lorastudio.recipe.loader)
    "problem.yaml_limit": (
        "goes beyond what a recipe can hold at {where}: {reason}",
        "超出了配方能容纳的范围（{where}）：{reason}",
    ),
    "recipe.too_deep": ("values nest more than {limit} levels deep", "数值嵌套超过 {limit} 层"),
    "fix.too_deep": (
        "write values as a shipped recipe does (a recipe nests 3 levels deep)",
        "请按内置配方的写法书写数值（配方最多嵌套 3 层）",
    ),
    "recipe.too_many_values": (
        "it holds more than {limit} values, each alias (*name) counted as the values it repeats",
        "包含超过 {limit} 个值（每个别名 *name 按其重复的值计数）",
    ),
    "recipe.too_much_text": (
        "it holds more than {limit} MiB of text, each alias (*name) counted as the text it repeats",
        "包含超过 {limit} MiB 的文本（每个别名 *name 按其重复的文本计数）",
    ),
    "fix.expand_less": (
        "write each value out once: a recipe holds about a hundred values and needs no alias "
        "repeated thousands of times",
        "请把每个值直接写出一次：配方通常只有约一百个值，不需要重复成千上万次的别名",
    ),
    "recipe.alias_loop": (
        "the alias *{name} is used inside the value it names",
        "别名 *{name} 出现在它所指的值内部",
    ),
    "fix.alias_loop": (
        "refer only to a value written out in full before the alias",
        "别名只能指向在它之前已完整写出的值",
    ),
    "recipe.long_integer": (
        "a number of {digits} digits (at most {limit} are read)",
        "一个 {digits} 位的数字（最多读取 {limit} 位）",
    ),
    "fix.long_integer": (
        "write a number within the field's range (`python launch.py fields` lists them)",
        "请写该字段范围内的数字（`python launch.py fields` 列出了各字段）",
    ),
    "problem.unreadable": ("cannot be read: {reason}", "无法读取：{reason}"),
    "recipe.no_such_file": ("No such file or directory", "文件或目录不存在"),
    "recipe.is_a_folder": ("Is a directory", "这是一个目录"),
    "recipe.permission_denied": ("Permission denied", "没有读取权限"),
    "fix.check_path": ("check the path; recipes live in recipes/", "请检查路径；配方在 recipes/ 中"),
    # --set overrides (lorastudio.recipe.schema.parse_overrides)
    "problem.not_key_value": ("is not KEY=VALUE", "不是 KEY=VALUE 的形式"),
    "fix.set_example": ("write it like --set train.max_steps=50", "请写成 --set train.max_steps=50 这样"),
    "problem.set_clash": ("clashes with another --set of {name}", "与另一个设置 {name} 的 --set 冲突"),
    "fix.set_once": (
        "set {name} once: either the whole value or fields inside it",
        "{name} 只能设置一次：要么设置整个值，要么设置其中的字段",
    ),
    # rules across fields and the schema's own validators (lorastudio.recipe.schema)
    "problem.no_data_either": ("is empty, and so is data.files", "为空，data.files 也为空"),
    "fix.no_data": (
        "no data: list at least one name in data.datasets or a data.files entry",
        "没有数据：请在 data.datasets 中至少写一个名称，或在 data.files 中写一个文件",
    ),
    "problem.no_length": ("is not set, and neither is train.epochs", "未设置，train.epochs 也未设置"),
    "fix.length": (
        "set train.epochs (e.g. 3) or train.max_steps (e.g. 500)",
        "请设置 train.epochs（如 3）或 train.max_steps（如 500）",
    ),
    "problem.incomplete": ("is incomplete or contradictory", "不完整或相互矛盾"),
    "fix.offload": ("hardware.offload needs hardware.deepspeed 2 or 3", "hardware.offload 需要 hardware.deepspeed 为 2 或 3"),
    "problem.rank_count": ("must be below nodes.count {count}", "必须小于 nodes.count（{count}）"),
    "fix.rank_count": ("number the machines 0 to {last}; the master is 0", "请把机器编号为 0 到 {last}；主节点为 0"),
    "problem.eval_no_split": (
        "is set, but data.val_size is 0, so nothing is held out to evaluate on",
        "已设置，但 data.val_size 为 0，没有留出用于评估的数据",
    ),
    "fix.eval_split": (
        "set data.val_size (e.g. 0.1), or remove train.eval_steps",
        "请设置 data.val_size（如 0.1），或删除 train.eval_steps",
    ),
    "problem.neat_not_sft": (
        "packs without attention across examples, which LLaMA-Factory does only for train.stage sft",
        "是不跨样本注意的拼接，LLaMA-Factory 只在 train.stage 为 sft 时支持",
    ),
    "fix.neat_not_sft": (
        "use data.packing: packed (pre-training packs anyway), or train.stage: sft",
        "请改用 data.packing: packed（预训练本来就会拼接），或 train.stage: sft",
    ),
    "fix.indices": (
        "card indices start at 0, as nvidia-smi and npu-smi number them",
        "卡的编号从 0 开始，与 nvidia-smi 和 npu-smi 的编号一致",
    ),
    "fix.version_number": ("write 1, the number (not true)", "请写数字 1（不是 true）"),
    # against this machine (lorastudio.checks.validation)
    "fix.maybe": ("did you mean `{word}`? {fix}", "是不是想写 `{word}`？{fix}"),
    "problem.unknown_template": ("is not a template LLaMA-Factory knows", "不是 LLaMA-Factory 认识的模板"),
    "fix.template": (
        "use qwen for Qwen2/Qwen2.5, qwen3 for Qwen3 (`python launch.py templates` lists all)",
        "Qwen2/Qwen2.5 用 qwen，Qwen3 用 qwen3（`python launch.py templates` 列出全部）",
    ),
    "problem.folder_missing": ("names a local folder that does not exist ({path})", "指向的本地目录不存在（{path}）"),
    "fix.model_folder": (
        "download the model there, fix the path, or use a hub id like {id}",
        "请把模型下载到那里、修正路径，或使用模型仓库 id（如 {id}）",
    ),
    "problem.no_config": ("is a folder without config.json ({path})", "是一个没有 config.json 的目录（{path}）"),
    "fix.model_config": (
        "point it at the folder that holds the model's config.json and weights",
        "请指向包含模型 config.json 和权重的目录",
    ),
    "problem.not_an_id": ("is neither a local folder nor a hub id", "既不是本地目录，也不是模型仓库 id"),
    "fix.model_id": ("write a hub id like {id} or a path to a model folder", "请写模型仓库 id（如 {id}）或模型目录的路径"),
    "problem.nul": ("contains a NUL character, which no path can", "含有 NUL 字符，路径中不能有它"),
    "fix.remove": ("remove it", "请删除它"),
    "problem.not_an_argument": ("is not a LLaMA-Factory training argument", "不是 LLaMA-Factory 的训练参数"),
    "fix.lf_docs": ("check the name in LLaMA-Factory's docs", "请在 LLaMA-Factory 的文档中核对参数名"),
    "problem.managed": ("is set by the recipe itself", "由配方本身设置"),
    "fix.set_instead": ("set {field} instead", "请改为设置 {field}"),
    "fix.managed_fixed": ("remove it: LoRA Studio trains with {arg} {how}", "请删除它：LoRA Studio 自己设置 {arg}（{how}）"),
    "problem.extra_type": (
        "does not fit LLaMA-Factory's {arg}, which takes {kind}",
        "不符合 LLaMA-Factory 的 {arg}，它接受 {kind}",
    ),
    "fix.write_bool": ("write true or false", "请写 true 或 false"),
    "fix.write_int": ("write a whole number", "请写一个整数"),
    "fix.write_number": ("write a number", "请写一个数字"),
    "fix.write_text": ("write text", "请写文本"),
    "fix.write_kind": ("write a value of type {kind}", "请写成 {kind} 类型的值"),
    "problem.outside_studio": ("points outside the studio folder ({path})", "指向工作室目录（{path}）之外"),
    "fix.inside_studio": ("give a path inside the studio folder, or remove it", "请给出工作室目录内的路径，或删除它"),
    # what the compiler sets itself, named in fix.managed_fixed (lorastudio.llamafactory.compiler)
    "managed.always_true": ("always true", "始终为 true"),
    "managed.always_lora": ("always lora", "始终为 lora"),
    "managed.output_dir": ("in `adapters/<run>/`, named after the recipe's name", "在 `adapters/<运行>/` 中，以配方名称命名"),
    "managed.logging_dir": ("inside its run folder", "在运行目录之内"),
    "managed.resume": (
        "from the run's last checkpoint: python launch.py resume RUN",
        "从运行的最近一个检查点恢复：python launch.py resume RUN",
    ),
    "managed.overwrite_cache": ("a fresh tokenization of its own data for each run", "每次运行都重新对自己的数据分词"),
    "managed.plot_loss": ("the loss curve drawn into the run folder", "损失曲线画在运行目录里"),
    "managed.tokens_seen": ("tokens counted, for tokens/s in the live view", "统计 token 数，用于实时视图中的 tokens/秒"),
    "managed.ddp_timeout": (
        "a long timeout, so a slow first step on many cards never times out",
        "较长的超时时间，多卡时较慢的第一步也不会超时",
    ),
    # saving a recipe into the studio's recipes folder (lorastudio.recipe.text)
    "problem.save_name": (
        "is not a plain file name for a recipe",
        "不是一个可用的配方文件名",
    ),
    "fix.save_name": (
        "use letters, digits, '.', '_' or '-', ending in .yaml (e.g. my-recipe.yaml)",
        "请只用字母、数字、“.”、“_”或“-”，并以 .yaml 结尾（例如 my-recipe.yaml）",
    ),
    "problem.save_exists": (
        "is the name of a recipe that exists already; nothing was overwritten",
        "已有同名配方；没有覆盖任何文件",
    ),
    "fix.save_exists": ("save it under another name, e.g. {name}", "请换一个名字保存，例如 {name}"),
    "fix.save_other": ("save it under another name", "请换一个名字保存"),
}
# fmt: on
