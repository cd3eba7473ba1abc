"""Every word the studio shows, in English and Chinese: one table of UI texts and one of recipe
fields (label, Chinese help; the English help is the schema's own description, written once).
Texts with {placeholders} are filled by the caller; error texts mirror the core's messages."""

from __future__ import annotations

import functools

from lorastudio.recipe import recipe_fields

LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"

# fmt: off
# key: (English, Chinese)
TEXT: dict[str, tuple[str, str]] = {
    "app.title": ("LoRA Studio", "LoRA Studio"),
    "app.subtitle": (
        "LoRA fine-tuning of Qwen models with LLaMA-Factory",
        "用 LLaMA-Factory 对 Qwen 模型做 LoRA 微调",
    ),
    "app.language": ("Language", "语言"),
    "tab.train": ("Train", "训练"),
    "tab.runs": ("Runs", "运行记录"),
    # the recipe editor
    "train.recipe": ("Recipe", "配方"),
    "train.recipe_info": ("A shipped recipe, or one you saved", "内置配方，或你保存的配方"),
    "train.upload": ("Upload recipe", "上传配方"),
    "train.download": ("Download recipe", "下载配方"),
    "train.yaml": ("Recipe YAML (edit here or in the form)", "配方 YAML（可在此或表单中编辑）"),
    "train.yaml_tab": ("Recipe YAML", "配方 YAML"),
    "train.compiled_tab": ("Compiled for LLaMA-Factory", "编译给 LLaMA-Factory"),
    "train.command_tab": ("Command", "命令"),
    "train.compiled": ("llamafactory.yaml (compiled)", "llamafactory.yaml（编译结果）"),
    "train.command": ("Command (command.sh, run in the run folder)", "命令（command.sh，在运行目录中执行）"),
    "train.preview_blocked": ("Fix the recipe's problems to see the compiled config.", "先修正配方的问题，才能看到编译结果。"),
    "train.start": ("Start training", "开始训练"),
    "train.stop": ("Stop", "停止"),
    "train.loaded": ("Loaded {name}.", "已载入 {name}。"),
    "train.uploaded": ("Uploaded {name}.", "已上传 {name}。"),
    "train.started": ("Started run {run}.", "已启动运行 {run}。"),
    "train.stopping": ("Stopping {run}: it saves the adapter trained so far.", "正在停止 {run}：会保存目前训练好的适配器。"),
    "train.not_started": ("Nothing was started.", "没有启动任何运行。"),
    "train.yaml_first": ("Fix the YAML first; the form shows its last valid state.", "请先修正 YAML；表单显示的是上一次有效的内容。"),
    "train.no_live_run": ("No run is live.", "当前没有正在进行的运行。"),
    "section.recipe": ("Recipe", "配方"),
    "section.model": ("Model", "模型"),
    "section.data": ("Data", "数据"),
    "section.lora": ("LoRA", "LoRA"),
    "section.train": ("Training", "训练参数"),
    "section.hardware": ("Hardware", "硬件"),
    "section.hardware.nodes": ("Nodes (multi-node)", "多机设置"),
    "section.extra": ("Other LLaMA-Factory arguments", "其他 LLaMA-Factory 参数"),
    "field.range": ("Range: {range}.", "范围：{range}。"),
    "field.optional": ("Leave empty for none.", "留空表示不设置。"),
    "field.list": ("Comma-separated.", "用逗号分隔。"),
    "form.bad_mapping": ("is not a YAML mapping: write one `key: value` per line.", "不是 YAML 映射：每行写一个 `key: value`。"),
    # the live view
    "live.title": ("Live run", "当前运行"),
    "live.none": ("No run yet: start one above.", "还没有运行：在上方启动一个。"),
    "live.header": ("Run {run}: {state}", "运行 {run}：{state}"),
    "live.loading": ("loading model and data… {elapsed}", "正在加载模型和数据… {elapsed}"),
    "live.step": ("step {step}/{total}", "第 {step}/{total} 步"),
    "live.elapsed": ("elapsed {value}", "已用 {value}"),
    "live.eta": ("ETA {value}", "预计剩余 {value}"),
    "live.throughput": ("{value} tokens/s", "{value} tokens/秒"),
    "live.loss": ("loss {value}", "损失 {value}"),
    "live.eval_loss": ("eval loss {value}", "验证损失 {value}"),
    "live.points": ("{count} points", "{count} 个点"),
    "live.curve": ("Loss curve", "损失曲线"),
    "live.log": ("Log (end of train.log)", "日志（train.log 末尾）"),
    "plot.step": ("step", "步数"),
    "plot.loss": ("loss", "损失"),
    "series.train": ("train", "训练"),
    "series.eval": ("eval", "验证"),
    "state.starting": ("starting", "启动中"),
    "state.running": ("running", "运行中"),
    "state.stopping": ("stopping", "停止中"),
    "state.succeeded": ("succeeded", "已完成"),
    "state.failed": ("failed", "失败"),
    "state.stopped": ("stopped", "已停止"),
    "state.unknown": ("unknown", "未知"),
    # the runs tab
    "runs.list": ("All runs (live and finished)", "全部运行（进行中和已结束）"),
    "runs.refresh": ("Refresh", "刷新"),
    "runs.empty": ("No runs yet.", "还没有运行记录。"),
    "runs.col.id": ("Run", "运行"),
    "runs.col.state": ("Status", "状态"),
    "runs.col.recipe": ("Recipe", "配方"),
    "runs.col.started": ("Started", "开始时间"),
    "runs.col.duration": ("Duration", "时长"),
    "runs.col.steps": ("Steps", "步数"),
    "runs.col.loss": ("Final loss", "最终损失"),
    "runs.col.adapter": ("Adapter folder", "适配器目录"),
    "runs.open": ("Open a run", "打开运行"),
    "runs.recipe": ("Its recipe", "它的配方"),
    "runs.curve": ("Its loss curve", "它的损失曲线"),
    "runs.log": ("Its log", "它的日志"),
    "runs.reason": ("Why: {reason}", "原因：{reason}"),
    "runs.resume": ("Resume from the last checkpoint", "从最近的检查点继续"),
    "runs.delete": ("Delete…", "删除…"),
    "runs.confirm_delete": ("Delete run {run} and its adapter for good?", "永久删除运行 {run} 及其适配器？"),
    "runs.confirm": ("Yes, delete it", "确认删除"),
    "runs.cancel": ("Cancel", "取消"),
    "runs.deleted": ("Deleted {run}.", "已删除 {run}。"),
    "runs.resumed": ("Resumed {run}; the Train tab shows it live.", "已继续 {run}；在“训练”页可实时查看。"),
    "runs.pick_first": ("Open a run first.", "请先打开一个运行。"),
    "runs.compare": ("Compare two runs", "对比两次运行"),
    "runs.run_a": ("Run A", "运行 A"),
    "runs.run_b": ("Run B", "运行 B"),
    "runs.overlay": ("Loss curves, overlaid", "损失曲线叠加"),
    "runs.diff": ("Recipe differences", "配方差异"),
    "runs.col.field": ("Field", "字段"),
    "runs.same": ("The two recipes are the same.", "两个配方完全相同。"),
    # errors: headings by error type (ui/messages.py maps types to these)
    "error.recipe": ("The recipe has {count} problem(s):", "配方有 {count} 个问题："),
    "error.run": ("That cannot be done:", "无法执行："),
    "error.device_busy": (
        "{devices} is in use by run {holder} ({state}); wait until it ends, stop it, or pick "
        "other cards with hardware.devices.",
        "{devices} 正被运行 {holder}（{state}）占用；请等它结束、停止它，或用 hardware.devices 选择其他卡。",
    ),
    "error.setup": ("The studio's setup has a problem:", "studio 的配置有问题："),
    "error.unexpected": (
        "Something went wrong ({kind}); nothing was changed. The studio's console has the details.",
        "出错了（{kind}），没有做任何改动。详情见 studio 的控制台输出。",
    ),
    "error.fix": ("Fix: {fix}", "修正：{fix}"),
    "error.line": ("{head} {message}. {fix}", "{head} {message}。{fix}"),
    "error.no_upload": ("No file was uploaded.", "没有收到上传的文件。"),
    "runerror.not_running": ("run {run} is not running (it is {state})", "运行 {run} 不在进行中（状态：{state}）"),
    "runerror.still_live": ("run {run} is still {state}", "运行 {run} 仍处于{state}状态"),
    "runerror.finished": ("run {run} already finished; start a new run to train more", "运行 {run} 已经完成；要继续训练请新建一次运行"),
    "runerror.no_checkpoint": ("run {run} has no checkpoint to resume from (one is written every train.save_steps={every} steps)", "运行 {run} 没有可恢复的检查点（每 train.save_steps={every} 步写一个）；请重新开始训练"),
    "runerror.live_delete": ("run {run} is {state}; stop it before deleting it", "运行 {run} 处于{state}状态；请先停止再删除"),
    "runerror.no_supervisor": ("the run's supervisor did not start within {seconds} s; see {path}", "运行的监督进程没有在 {seconds} 秒内启动；请查看 {path}"),
    # the core's problem messages (patterns in ui/messages.py)
    "problem.unknown_key": ("is not a known key", "不是已知的键"),
    "problem.missing": ("is required but missing", "是必填项，但缺失了"),
    "problem.incomplete": ("is incomplete or contradictory", "不完整或相互矛盾"),
    "problem.wrong_value": ("has a wrong value", "取值不对"),
    "problem.bad_yaml": ("is not valid YAML at line {line}, column {column}: {reason}", "不是合法的 YAML（第 {line} 行第 {column} 列）：{reason}"),
    "problem.not_mapping": ("is not a recipe (expected a mapping of keys)", "不是配方（应为键值映射）"),
    "problem.newer_schema": ("is newer than this LoRA Studio understands ({version})", "比当前 LoRA Studio 支持的版本（{version}）更新"),
    "problem.unknown_template": ("is not a template LLaMA-Factory knows", "不是 LLaMA-Factory 认识的模板"),
    "problem.folder_missing": ("names a local folder that does not exist ({path})", "指向的本地目录不存在（{path}）"),
    "problem.no_config": ("is a folder without config.json ({path})", "是一个没有 config.json 的目录（{path}）"),
    "problem.not_an_id": ("is neither a local folder nor a hub id", "既不是本地目录，也不是模型仓库 id"),
    "problem.not_registered": ("is not registered in {path}", "没有在 {path} 中注册"),
    "problem.outside_data": ("points outside the data folder ({path})", "指向数据目录（{path}）之外"),
    "problem.not_a_file": ("is not a file ({path})", "不是文件（{path}）"),
    "problem.not_data": ("is not a data file LLaMA-Factory reads", "不是 LLaMA-Factory 能读取的数据文件"),
    "problem.managed": ("is set by the recipe itself", "由配方本身设置"),
    "problem.not_an_argument": ("is not a LLaMA-Factory training argument", "不是 LLaMA-Factory 的训练参数"),
    "problem.no_device": ("is not available here", "在本机不可用"),
    "problem.device_ids": ("does not match this machine", "与本机不符"),
    "problem.file_missing": ("is registered as {name}, but {path} does not exist", "注册为 {name}，但 {path} 不存在"),
    "problem.needs_cuda": ("needs a CUDA GPU, not {device}", "需要 CUDA GPU，而不是 {device}"),
    "problem.needs_deepspeed": ("needs DeepSpeed, which is not installed", "需要 DeepSpeed，但它没有安装"),
    "problem.disk": ("is too little for checkpoints", "不足以保存检查点"),
    "problem.unreadable": ("cannot be read: {reason}", "无法读取：{reason}"),
    "problem.not_yaml_file": ("is not a YAML file", "不是 YAML 文件"),
    "problem.too_big": ("is {size} MiB, too big to be a recipe (limit {limit} MiB)", "有 {size} MiB，太大了，不可能是配方（上限 {limit} MiB）"),
    "problem.not_utf8": ("is not UTF-8 text", "不是 UTF-8 文本"),
    "problem.no_schema_version": ("is not a recipe (it has no schema_version)", "不是配方（没有 schema_version）"),
    # the core's fixes, for the common cases (others are shown as the core wrote them)
    "fix.did_you_mean": ("did you mean `{word}`?", "是不是想写 `{word}`？"),
    "fix.le": ("input should be less than or equal to {n}", "应小于或等于 {n}"),
    "fix.lt": ("input should be less than {n}", "应小于 {n}"),
    "fix.ge": ("input should be greater than or equal to {n}", "应大于或等于 {n}"),
    "fix.gt": ("input should be greater than {n}", "应大于 {n}"),
    "fix.integer": ("input should be a valid integer{rest}", "应为整数"),
    "fix.number": ("input should be a valid number{rest}", "应为数字"),
    "fix.boolean": ("input should be a valid boolean{rest}", "应为 true 或 false"),
    "fix.string": ("input should be a valid string", "应为文本"),
    "fix.list": ("input should be a valid list", "应为列表"),
    "fix.dict": ("input should be a valid dictionary", "应为键值映射"),
    "fix.choice": ("input should be {choices}", "应为 {choices} 之一"),
    "fix.pattern": ("string should match pattern '{pattern}'", "应匹配格式 '{pattern}'"),
    "fix.min_length": ("string should have at least {n} character{s}", "至少需要 {n} 个字符"),
    "fix.add_it": ("add it — {help}", "请补上 —— {help}"),
    "fix.yaml_syntax": ("fix the YAML syntax there (indentation, a missing ':' or quote)", "请修正该处的 YAML 语法（缩进、缺少的冒号或引号）"),
    "fix.upload_yaml": ("upload a recipe saved as .yaml or .yml", "请上传 .yaml 或 .yml 格式的配方"),
    "fix.upload_small": ("upload the recipe YAML itself, not a model, adapter or data file", "请上传配方 YAML 本身，而不是模型、适配器或数据文件"),
    "fix.utf8": ("save the recipe as UTF-8", "请把配方保存为 UTF-8 编码"),
    "fix.start_from_shipped": ("start from a shipped recipe; a recipe begins with `schema_version: 1`", "请从内置配方开始；配方以 `schema_version: 1` 开头"),
    "fix.shipped": ("start from a shipped recipe in recipes/", "请从 recipes/ 中的内置配方开始"),
    "fix.set_instead": ("set {field} instead", "请改为设置 {field}"),
    "fix.remove_key": ("remove it; allowed keys: {keys}", "请删除它；允许的键：{keys}"),
    "fix.length": ("set train.epochs (e.g. 3) or train.max_steps (e.g. 500)", "请设置 train.epochs（如 3）或 train.max_steps（如 500）"),
    "fix.offload": ("hardware.offload needs hardware.deepspeed 2 or 3", "hardware.offload 需要 hardware.deepspeed 为 2 或 3"),
    "fix.no_data": ("no data: list at least one name in data.datasets or a data.files entry", "没有数据：请在 data.datasets 中至少写一个名称，或在 data.files 中写一个文件"),
    # runs that ended badly, by the core's diagnosis kind
    "failure.disk_full": ("the disk is full: free space in the adapters folder or raise train.save_steps", "磁盘已满：请清理 adapters 目录（旧的 checkpoint-*）或调大 train.save_steps"),
    "failure.out_of_memory": ("the accelerator ran out of memory: lower train.batch_size or data.cutoff_len, or use lora.quantization: 4", "加速卡显存不足：请调小 train.batch_size 或 data.cutoff_len，或使用 lora.quantization: 4"),
    "failure.model_not_found": ("the base model could not be loaded: check model.id", "无法加载基础模型：请检查 model.id"),
    "failure.dataset_not_found": ("a dataset could not be loaded: check data.datasets and data.files", "无法加载数据集：请检查 data.datasets 和 data.files"),
    "failure.bad_template": ("LLaMA-Factory does not know model.template", "LLaMA-Factory 不认识 model.template"),
    "failure.bad_target": ("lora.target names modules this model does not have", "lora.target 指定了模型中不存在的模块"),
    "failure.nan_loss": ("the loss became NaN: lower train.learning_rate", "损失变成了 NaN：请调低 train.learning_rate"),
    "failure.killed": ("the trainer was killed (SIGKILL), most often for lack of RAM", "训练进程被杀死（SIGKILL），通常是内存不足"),
    "reason.stopped": ("stopped by request at step {step} ({how})", "应请求在第 {step} 步停止（{how}）"),
    "reason.vanished": ("the run's supervisor process disappeared; resume continues from the last checkpoint", "运行的监督进程消失了；“继续”会从最近的检查点接着训练"),
}

# recipe field path: (English label, Chinese label, Chinese help)
FIELDS: dict[str, tuple[str, str, str]] = {
    "schema_version": ("Schema version", "格式版本", "配方格式版本；当前为 1。"),
    "name": ("Name", "名称", "简短名称（字母、数字、. _ -）；运行目录以它命名。"),
    "description": ("Description", "说明", "这个配方训练什么，写给队友看。"),
    "model.id": ("Base model", "基础模型", "Hugging Face 或 ModelScope 的模型 id（如 Qwen/Qwen2.5-0.5B-Instruct），或本地目录。"),
    "model.hub": ("Model hub", "模型仓库", "模型 id 从哪里下载。"),
    "model.template": ("Chat template", "对话模板", "LLaMA-Factory 的对话模板；对话时须用同一个（Qwen2/2.5 用 qwen，Qwen3 用 qwen3）。"),
    "model.trust_remote_code": ("Trust remote code", "信任远程代码", "运行模型自带的 Python 代码。只对你信任的模型打开。"),
    "data.datasets": ("Datasets", "数据集", "在数据目录的 dataset_info.json 中注册的数据集名称，如 identity、alpaca_zh_demo。"),
    "data.files": ("Data files", "数据文件", "本地 .json/.jsonl 文件，路径相对于数据目录。"),
    "data.format": ("File format", "文件格式", "data.files 的格式：alpaca（instruction/input/output）或 sharegpt（对话）。"),
    "data.cutoff_len": ("Cutoff length", "截断长度", "每条样本保留的 token 数；更长的会被截断。"),
    "data.max_samples": ("Max samples", "最大样本数", "每个数据集最多使用多少条样本（留空：全部）。"),
    "data.val_size": ("Validation split", "验证集比例", "留作验证的比例（0：不划分验证集）。"),
    "lora.rank": ("Rank", "秩", "LoRA 秩：越高学得越多，也越占显存。"),
    "lora.alpha": ("Alpha", "Alpha", "LoRA 缩放系数；通常为秩的 2 倍。"),
    "lora.dropout": ("Dropout", "Dropout", "LoRA 层上的 dropout。"),
    "lora.target": ("Target modules", "目标模块", "要适配的模块：all（所有线性层）或列表，如 q_proj, v_proj。"),
    "lora.quantization": ("Quantization (QLoRA)", "量化（QLoRA）", "QLoRA：以 4 或 8 比特加载基础模型（bitsandbytes，需 CUDA）。"),
    "train.epochs": ("Epochs", "训练轮数", "遍历数据的次数。"),
    "train.max_steps": ("Max steps", "最大步数", "要执行的优化步数；设置后覆盖训练轮数。"),
    "train.learning_rate": ("Learning rate", "学习率", "峰值学习率。"),
    "train.scheduler": ("LR schedule", "学习率调度", "预热之后的学习率变化方式。"),
    "train.warmup_steps": ("Warm-up steps", "预热步数", "线性预热的步数。"),
    "train.batch_size": ("Batch size", "批大小", "每个设备每步的样本数。"),
    "train.grad_accum": ("Gradient accumulation", "梯度累积", "每次更新累积的步数（有效批大小的倍数）。"),
    "train.precision": ("Precision", "精度", "auto：GPU/NPU 上用 bf16，CPU 上用 fp32。"),
    "train.seed": ("Seed", "随机种子", "数据顺序和初始化的随机种子。"),
    "train.logging_steps": ("Logging steps", "日志间隔", "每 N 步记录一次损失。"),
    "train.save_steps": ("Save steps", "保存间隔", "每 N 步写一个可恢复的检查点。"),
    "train.eval_steps": ("Eval steps", "验证间隔", "每 N 步做一次验证（需要 data.val_size）；默认等于保存间隔。"),
    "hardware.device": ("Device", "设备", "在哪里训练：auto 依次选择 NPU、CUDA GPU、CPU。"),
    "hardware.devices": ("Cards", "卡号", "使用哪些卡（按编号），如 0, 1（留空：全部可见的卡）。"),
    "hardware.deepspeed": ("DeepSpeed ZeRO", "DeepSpeed ZeRO", "DeepSpeed ZeRO 阶段：none、0、2（切分优化器）或 3（全部切分）。"),
    "hardware.offload": ("Offload to CPU", "卸载到 CPU", "ZeRO-2/3：把优化器（和参数）卸载到 CPU。"),
    "hardware.nodes.count": ("Nodes", "机器数", "参与训练的机器数。"),
    "hardware.nodes.rank": ("Node rank", "本机序号", "本机的序号（主节点为 0）。"),
    "hardware.nodes.master_addr": ("Master address", "主节点地址", "序号为 0 的节点的地址。"),
    "hardware.nodes.master_port": ("Master port", "主节点端口", "序号为 0 的节点的端口。"),
    "extra": ("Extra arguments (YAML)", "额外参数（YAML）", "其他 LLaMA-Factory 训练参数，按原样传入。"),
}
# fmt: on


def t(key: str, lang: str, **values: object) -> str:
    """The text for ``key`` in ``lang``, with its placeholders filled."""
    english, chinese = TEXT[key]
    text = chinese if lang == "zh" else english
    return text.format(**values) if values else text


def field_label(path: str, lang: str) -> str:
    english, chinese, _ = FIELDS[path]
    return chinese if lang == "zh" else english


def field_help(path: str, lang: str) -> str:
    """The field's help: the schema's description in English, the table's in Chinese."""
    return FIELDS[path][2] if lang == "zh" else _schema_help()[path]


@functools.cache
def _schema_help() -> dict[str, str]:
    return {field.path: field.help for field in recipe_fields()}
