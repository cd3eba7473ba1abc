"""Every word the studio shows, in English and Chinese: one table of UI texts and one of recipe
field labels. A field's help, in both languages, is the schema's own (written once, beside the
field); what the core says is in its own catalogue (lorastudio.messages). Texts with
{placeholders} are filled by the caller."""

from __future__ import annotations

import functools

from pydantic.fields import FieldInfo

from lorastudio.chat.params import ChatParams
from lorastudio.messages import Msg
from lorastudio.recipe.schema import recipe_fields

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
    "tab.data": ("Data", "数据"),
    # the Data tab
    "datatab.add_title": ("Add your data", "添加你的数据"),
    "datatab.upload": ("Data file (JSON, JSONL, CSV, Parquet or text; drop it here)", "数据文件（JSON、JSONL、CSV、Parquet 或文本；拖放到这里）"),
    "datatab.recognised": ("Recognised **{format}** in {file}. Check the mapping; the preview follows it.", "已识别 {file} 为 **{format}** 格式。请核对映射，预览会随之更新。"),
    "datatab.format": ("Layout", "格式"),
    "datatab.format_info": ("alpaca: instruction/input/output · sharegpt: conversations of from/value · openai: messages of role/content · text: plain text for continued pre-training", "alpaca：instruction/input/output · sharegpt：由 from/value 组成的对话 · openai：由 role/content 组成的 messages · text：用于继续预训练的纯文本"),
    "datatab.map.prompt": ("Instruction column (text for text)", "指令列（text 格式时为文本列）"),
    "datatab.map.query": ("Input column", "输入列"),
    "datatab.map.response": ("Output column", "输出列"),
    "datatab.map.system": ("System prompt column", "系统提示词列"),
    "datatab.map.history": ("History column", "历史对话列"),
    "datatab.map.messages": ("Conversation column", "对话列"),
    "datatab.map.tools": ("Tools column", "工具列"),
    "datatab.map.role_tag": ("Role key", "角色键"),
    "datatab.map.content_tag": ("Text key", "文本键"),
    "datatab.map.user_tag": ("User role", "用户角色"),
    "datatab.map.assistant_tag": ("Assistant role", "助手角色"),
    "datatab.map.system_tag": ("System role", "系统角色"),
    "datatab.name": ("Dataset name", "数据集名称"),
    "datatab.cutoff": ("Cutoff (data.cutoff_len)", "截断长度（data.cutoff_len）"),
    "datatab.cutoff_info": ("From the recipe in the Train tab; the histogram is drawn against it", "取自训练页的配方；直方图以它为界"),
    "datatab.histogram": ("Tokens per sample", "每条样本的 token 数"),
    "datatab.tokens": ("tokens", "token 数"),
    "datatab.samples": ("samples", "样本数"),
    "datatab.kept": ("within the cutoff", "未超过截断长度"),
    "datatab.cut": ("longer than the cutoff", "超过截断长度"),
    "datatab.row": ("Row {row}", "第 {row} 条"),
    "datatab.row_tokens": ("{tokens} tokens, {kept} kept; the trained part is highlighted", "{tokens} 个 token，保留 {kept} 个；高亮部分参与训练"),
    "datatab.rendered_for": ("Rendered for {model} with the {template} template (the recipe in the Train tab), by LLaMA-Factory.", "由 LLaMA-Factory 按 {model} 和 {template} 模板渲染（训练页中的配方）。"),
    "datatab.stats": ("{samples} samples, {tokens} tokens (mean {mean}, p95 {p95}, longest {max}). Cutoff {cutoff}: **{truncated} samples would be cut, {lost} tokens lost**; {dropped} dropped by LLaMA-Factory.", "{samples} 条样本，{tokens} 个 token（平均 {mean}，p95 {p95}，最长 {max}）。截断长度 {cutoff}：**{truncated} 条样本会被截断，丢失 {lost} 个 token**；LLaMA-Factory 丢弃 {dropped} 条。"),
    "datatab.counted_first": ("Counted over the first 20,000 rows.", "按前 20,000 条统计。"),
    "datatab.add": ("Add dataset", "添加数据集"),
    "datatab.no_file": ("Upload a file first.", "请先上传文件。"),
    "datatab.added": ("Added **{ref}** ({rows} rows). Use it in the recipe below, or write it under data.datasets.", "已添加 **{ref}**（{rows} 条）。可在下方用于配方，或写在 data.datasets 中。"),
    "datatab.val_size": ("Validation split", "验证集比例"),
    "datatab.val_size_info": ("Held out of training to measure eval loss (data.val_size)", "从训练中留出、用于计算验证损失的比例（data.val_size）"),
    "datatab.use": ("Use in recipe", "用于配方"),
    "datatab.add_first": ("Add a dataset first.", "请先添加数据集。"),
    "datatab.used": ("The recipe in the Train tab now trains on {ref}.", "训练页中的配方现在使用 {ref} 训练。"),
    "datatab.list": ("Datasets", "数据集"),
    "datatab.pick": ("Dataset", "数据集"),
    "datatab.delete": ("Delete", "删除"),
    "datatab.pick_first": ("Pick a dataset first.", "请先选择一个数据集。"),
    "datatab.confirm_delete": ("Delete {name} and its file? Runs that trained on it keep their adapters.", "删除 {name} 及其文件？用它训练过的运行会保留各自的适配器。"),
    "datatab.deleted": ("Deleted {ref}.", "已删除 {ref}。"),
    "datatab.col.ref": ("name@hash", "名称@哈希"),
    "datatab.col.format": ("layout", "格式"),
    "datatab.col.rows": ("rows", "条数"),
    "datatab.col.size": ("size", "大小"),
    "datatab.col.source": ("file", "文件"),
    "datatab.col.added": ("added", "添加时间"),
    "runs.data": ("Data: {data}", "数据：{data}"),
    "runs.export": ("Export: {export}", "导出：{export}"),
    # the recipe editor
    "train.recipe": ("Recipe", "配方"),
    "train.recipe_info": ("A shipped recipe, or one you saved", "内置配方，或你保存的配方"),
    "train.upload": ("Upload recipe", "上传配方"),
    "train.download": ("Download recipe", "下载配方"),
    "train.save_as": ("Save into the studio's recipes/ as", "保存到 studio 的 recipes/，文件名"),
    "train.save_placeholder": ("my-recipe.yaml (empty: the recipe's name)", "my-recipe.yaml（留空：用配方的 name）"),
    "train.save": ("Save recipe", "保存配方"),
    "train.saved": ("Saved as {path}; the recipe list shows it.", "已保存为 {path}；配方列表中可以选到它。"),
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
    "train.queued": ("Run {run} is {place}: it starts by itself when they are free, even with the studio closed. The Runs tab shows the queue; cancel it or move it up there.", "运行 {run} {place}：设备空出后会自动启动，关闭工作室也一样。“运行记录”页显示队列，可在那里取消或前移。"),
    "train.fetch_demo": ("Get LLaMA-Factory's demo data", "获取 LLaMA-Factory 示例数据"),
    "train.demo_fetched": ("LLaMA-Factory's demo data is in {path} ({names}), each file checked against its release. Start again.", "LLaMA-Factory 示例数据已放入 {path}（{names}），每个文件都已与其发布版本核对。请再次启动。"),
    "train.not_started": ("Nothing was started.", "没有启动任何运行。"),
    "train.yaml_first": ("Fix the YAML first; the form shows its last valid state.", "请先修正 YAML；表单显示的是上一次有效的内容。"),
    "train.no_live_run": ("No run is live.", "当前没有正在进行的运行。"),
    # the model picker (ui/model_picker.py)
    "picker.title": ("Model: pick one from the catalogue or this machine's caches", "模型：从模型目录或本机缓存中选择"),
    "picker.source": ("Where from", "来源"),
    "picker.from_catalogue": ("The catalogue (downloaded from its hub at the start)", "模型目录（开始训练时从模型仓库下载）"),
    "picker.from_caches": ("Already on this machine (Hugging Face and ModelScope caches)", "本机已有（Hugging Face 和 ModelScope 缓存）"),
    "picker.family": ("Family", "系列"),
    "picker.size": ("Size", "规模"),
    "picker.variant": ("Variant", "版本"),
    "picker.hub": ("Hub (model.hub)", "模型仓库（model.hub）"),
    "picker.local": ("Model in the caches", "缓存中的模型"),
    "picker.local_info": (
        "Read from {hf} and {ms} when you turn here or press Refresh; choosing one writes its folder into model.id",
        "切换到这里或点击“刷新”时读取 {hf} 和 {ms}；选中后会把它的目录写入 model.id",
    ),
    "picker.refresh": ("Refresh", "刷新"),
    "picker.method_lora": ("LoRA in {precision}", "LoRA，{precision}"),
    "picker.method_qlora": ("QLoRA {bits}-bit", "QLoRA {bits} 位"),
    "picker.estimate": (
        "≈ {total} for {method} (rank {rank}, batch {batch}, cutoff {cutoff}) · this machine: {budget} {where} — **{verdict}**",
        "≈ {total}（{method}，秩 {rank}，批大小 {batch}，截断长度 {cutoff}）· 本机：{where} {budget} — **{verdict}**",
    ),
    "picker.estimate_no_cards": (
        "≈ {total} per card for {method} (rank {rank}, batch {batch}, cutoff {cutoff}); this machine has no {label} to compare it with",
        "每张卡约 {total}（{method}，秩 {rank}，批大小 {batch}，截断长度 {cutoff}）；本机没有可供比较的 {label}",
    ),
    "picker.no_estimate": ("The memory estimate shows once the recipe's fields are valid.", "配方的字段都有效后，这里会显示内存估算。"),
    "section.recipe": ("Recipe", "配方"),
    "section.model": ("Model", "模型"),
    "section.data": ("Data", "数据"),
    "section.lora": ("LoRA", "LoRA"),
    "section.train": ("Training", "训练参数"),
    "section.hardware": ("Hardware", "硬件"),
    "section.hardware.nodes": ("Nodes (multi-node)", "多机设置"),
    "section.eval": ("Test prompts", "测试提示词"),
    "section.extra": ("Other LLaMA-Factory arguments", "其他 LLaMA-Factory 参数"),
    "field.range": ("Range: {range}.", "范围：{range}。"),
    "field.optional": ("Leave empty for none.", "留空表示不设置。"),
    "field.list": ("Comma-separated.", "用逗号分隔。"),
    "field.lines": ("One per line.", "每行一条。"),
    "form.bad_mapping": ("is not a YAML mapping: write one `key: value` per line.", "不是 YAML 映射：每行写一个 `key: value`。"),
    # the live view
    "live.title": ("Live run", "当前运行"),
    "live.none": ("No run yet: start one above.", "还没有运行：在上方启动一个。"),
    "live.header": ("Run {run}: {state}", "运行 {run}：{state}"),
    "live.stopping": ("It finishes the current step and saves the adapter trained so far.", "它会完成当前这一步，并保存目前训练好的适配器。"),
    "live.loading": ("loading model and data… {elapsed}", "正在加载模型和数据… {elapsed}"),
    "live.step": ("step {step}/{total}", "第 {step}/{total} 步"),
    "live.elapsed": ("elapsed {value}", "已用 {value}"),
    "live.eta": ("ETA {value}", "预计剩余 {value}"),
    "live.throughput": ("{value} tokens/s", "{value} tokens/秒"),
    "live.loss": ("loss {value}", "损失 {value}"),
    "live.eval_loss": ("eval loss {value}", "验证损失 {value}"),
    "live.lr_curve": ("Learning rate", "学习率"),
    "series.lr": ("learning rate", "学习率"),
    "live.mfu": ("MFU {value}", "算力利用率（MFU）{value}"),
    "live.card_memory": ("card memory {used} / {total} GiB", "卡显存 {used} / {total} GiB"),
    "live.card_busy": ("card busy {value} %", "卡利用率 {value} %"),
    "live.lr": ("learning rate {value}", "学习率 {value}"),
    "live.points": ("{count} points", "{count} 个点"),
    "live.curve": ("Loss curve", "损失曲线"),
    "live.log": ("Log (end of train.log)", "日志（train.log 末尾）"),
    "plot.step": ("step", "步数"),
    "series.train": ("train", "训练"),
    "series.eval": ("eval", "验证"),
    # the runs tab
    "runs.list": ("All runs (live and finished)", "全部运行（进行中和已结束）"),
    "runs.refresh": ("Refresh", "刷新"),
    "runs.empty": ("No runs yet.", "还没有运行记录。"),
    "runs.col.id": ("Run", "运行"),
    "runs.col.state": ("Status", "状态"),
    "runs.col.model": ("Model", "模型"),
    "runs.col.recipe": ("Recipe", "配方"),
    "runs.col.started": ("Started", "开始时间"),
    "runs.col.duration": ("Duration", "时长"),
    "runs.col.steps": ("Steps", "步数"),
    "runs.col.loss": ("Final loss", "最终损失"),
    "runs.col.reason": ("Why it ended", "结束原因"),
    "runs.col.adapter": ("Adapter folder", "适配器目录"),
    "runs.open": ("Open a run", "打开运行"),
    "runs.recipe": ("Its recipe", "它的配方"),
    "runs.curve": ("Its loss curve", "它的损失曲线"),
    "runs.log": ("Its log", "它的日志"),
    "runs.reason": ("Why: {reason}", "原因：{reason}"),
    "runs.resume": ("Resume from the last checkpoint", "从最近的检查点继续"),
    "runs.again": ("Run again", "再运行一次"),
    "runs.clone": ("Edit a copy", "编辑副本"),
    "runs.again_started": ("Started run {run} with the recipe of {source}; the Train tab shows it live.", "已用 {source} 的配方启动运行 {run}；在“训练”页可实时查看。"),
    "runs.cloned": ("The recipe of run {run} is in the editor: change it, then start it or save it.", "运行 {run} 的配方已放入编辑器：修改后可以启动或保存。"),
    "runs.again_queued": ("Run {run} (the recipe of {source}) is {place}: it starts by itself when they are free.", "运行 {run}（{source} 的配方）{place}：设备空出后会自动启动。"),
    "runs.queue": ("Queue: these runs start by themselves, in this order, as their devices free up", "队列：设备空出后，这些运行按此顺序自动启动"),
    "runs.queue_row": ("{nth} · `{run}` · {devices} · queued at {when}", "{nth} · `{run}` · {devices} · {when} 排队"),
    "runs.state_queued": ("{state} ({nth})", "{state}（{nth}）"),
    "runs.dequeue": ("Cancel (queued)", "取消排队"),
    "runs.move_up": ("Move up in the queue", "在队列中前移"),
    "runs.dequeued": ("Cancelled {run}: it left the queue and never starts.", "已取消 {run}：它已离开队列，不会启动。"),
    "runs.stopping_instead": ("{run} had started meanwhile: it is stopping, and saves the adapter trained so far.", "{run} 在此期间已经启动：正在停止，并会保存目前训练好的适配器。"),
    "runs.moved_up": ("Run {run} is now {place}.", "运行 {run} 现在{place}。"),
    "runs.started_now": ("Run {run} started: its devices were free.", "运行 {run} 已启动：它所需的设备已空出。"),
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
    "error.setup": ("The studio's setup has a problem:", "studio 的配置有问题："),
    "error.unexpected": (
        "Something went wrong ({kind}); nothing was changed. The studio's console has the details.",
        "出错了（{kind}），没有做任何改动。详情见 studio 的控制台输出。",
    ),
    "error.fix": ("Fix: {fix}", "修正：{fix}"),
    "error.line": ("{head} {message}. {fix}", "{head} {message}。{fix}"),
    "error.no_upload": ("No file was uploaded.", "没有收到上传的文件。"),
    # scale-out: the Train tab's "Scale out" view (ui/scale_view.py) and the core's scale-out
    # messages (patterns in ui/messages.py)
    "scale.title": ("Scale out: several machines, Kubernetes", "扩展：多台机器、Kubernetes"),
    "scale.nodes_title": ("### Several machines", "### 多台机器"),
    "scale.one_node": (
        "This recipe trains on one machine. To train on several, set **Nodes** "
        "(`hardware.nodes.count`) to their number and **Master address** "
        "(`hardware.nodes.master_addr`) to node 0's address; each node's command then shows here.",
        "这个配方在一台机器上训练。要在多台机器上训练，请把 **机器数**（`hardware.nodes.count`）设为机器数量，"
        "把 **主节点地址**（`hardware.nodes.master_addr`）设为节点 0 的地址；每个节点的命令随后显示在这里。",
    ),
    "scale.node_intro": (
        "Download the recipe (it is saved as `{file}`) and put it, the model and the data on each of the {count} machines; then run on each:",
        "下载配方（保存为 `{file}`），把它连同模型和数据放到全部 {count} 台机器上；然后在每台机器上运行：",
    ),
    "scale.node_master": ("Node 0, the master ({addr}:{port})", "节点 0，主节点（{addr}:{port}）"),
    "scale.node_other": ("Node {rank}", "节点 {rank}"),
    "scale.rank_note": (
        "The recipe sets `hardware.nodes.rank: {rank}`; set it to 0, so that the file run without `--node-rank` is node 0.",
        "配方中 `hardware.nodes.rank: {rank}`；请改为 0，这样不带 `--node-rank` 运行的就是节点 0。",
    ),
    "scale.node_checks": ("Checked on this machine, as node 0:", "以本机为节点 0 检查的结果："),
    "scale.k8s_title": (
        "### Kubernetes\nA Kubeflow `PyTorchJob` (a Master pod and `nodes.count - 1` Workers) and a `ConfigMap` with the recipe; the cluster needs the Kubeflow Training Operator and a claim holding `data/`.",
        "### Kubernetes\n一个 Kubeflow `PyTorchJob`（一个 Master pod 和 `nodes.count - 1` 个 Worker）和一个装有配方的 `ConfigMap`；集群需要安装 Kubeflow Training Operator，并有一个存放 `data/` 的存储卷声明（PVC）。",
    ),
    "scale.image": ("Container image", "容器镜像"),
    "scale.image_info": (
        "Empty: LLaMA-Factory's image for the recipe's device; pin a tag with LLaMA-Factory 0.9.5",
        "留空：使用与配方设备对应的 LLaMA-Factory 镜像；建议固定为含 LLaMA-Factory 0.9.5 的标签",
    ),
    "scale.namespace": ("Namespace", "命名空间"),
    "scale.pvc": ("Claim (PVC)", "存储卷声明（PVC）"),
    "scale.pvc_info": ("Mounted at /workspace; holds data/ and receives adapters/", "挂载在 /workspace；存放 data/，训练结果写入 adapters/"),
    "scale.manifest": ("Manifest (kubectl apply -f)", "清单（kubectl apply -f）"),
    "scale.download": ("Download manifest", "下载清单"),
    "scale.submit": ("Submit to cluster", "提交到集群"),
    "scale.submitted": (
        "Submitted run {run}: PyTorchJob {job} in namespace {namespace} at {server}. The Runs tab follows its state.",
        "已提交运行 {run}：PyTorchJob {job}，命名空间 {namespace}，集群 {server}。可在“运行记录”页查看它的状态。",
    ),
    "scale.not_submitted": ("Nothing was submitted and no run was recorded.", "没有提交任何内容，也没有记录运行。"),
    "scale.blocked": ("Fix the recipe's problems to see each node's command and the manifest.", "先修正配方的问题，才能看到各节点的命令和清单。"),
    # chat tab
    "tab.chat": ("Chat", "对话"),
    "chat.run": ("Run (its adapter)", "运行（其适配器）"),
    "chat.run_info": ("Succeeded or stopped runs that saved an adapter", "已完成或已停止、且保存了适配器的运行"),
    "chat.load": ("Load", "加载"),
    "chat.unload": ("Unload", "卸载"),
    "chat.none_loaded": ("No model loaded: pick a run and press Load. The model runs in a worker process of its own, not in the studio.", "尚未加载模型：选择一个运行并点击“加载”。模型运行在独立的工作进程中，而不在 studio 里。"),
    "chat.loading": ("Loading {run} into the chat worker…", "正在把 {run} 加载到对话工作进程…"),
    "chat.loaded": ("Loaded **{run}** · base `{model}` · template `{template}` · {device} · {dtype} · worker memory {memory}", "已加载 **{run}** · 基础模型 `{model}` · 模板 `{template}` · {device} · {dtype} · 工作进程内存 {memory}"),
    "chat.reloads": ("The chat worker stopped; the next message loads {run} again.", "对话工作进程已停止；下一条消息会重新加载 {run}。"),
    "chat.template": ("Chat template", "对话模板"),
    "chat.force": ("Use this template anyway (experts)", "仍然使用此模板（专家选项）"),
    "chat.trained_with": ("The adapter was trained with template `{template}`; chat uses it too.", "适配器训练时使用模板 `{template}`；对话也使用它。"),
    "chat.forced": ("Template `{asked}` forced; the adapter was trained with `{trained}`, so answers may not stop or may repeat.", "已强制使用模板 `{asked}`；适配器训练时用的是 `{trained}`，回答可能不会停止或反复重复。"),
    "chat.settings": ("Sampling (the same for both columns)", "采样设置（两列相同）"),
    "chat.param.system": ("System prompt", "系统提示词"),
    "chat.param.temperature": ("Temperature", "温度"),
    "chat.param.top_p": ("Top-p", "Top-p（核采样）"),
    "chat.param.max_new_tokens": ("Max new tokens", "最多生成的 token 数"),
    "chat.param.seed": ("Seed", "随机种子"),
    "chat.param.thinking": ("Thinking", "思考"),
    "chat.thinking_title": ("Thinking", "思考过程"),
    "chat.thinking_now": ("Thinking…", "思考中…"),
    "chat.base": ("Base model", "基础模型"),
    "chat.adapter": ("Base + adapter", "基础模型 + 适配器"),
    "chat.prompt": ("Message (sent to both)", "消息（同时发给两者）"),
    "chat.placeholder": ("Ask both the same thing; Enter sends", "向两者提同一个问题；回车发送"),
    "chat.send": ("Send", "发送"),
    "chat.clear": ("Clear", "清空"),
    "chat.pick_first": ("Pick a run first.", "请先选择一个运行。"),
    "chat.prompt_set": ("Prompt set", "测试提示词集"),
    "chat.run_prompts": ("Run the recipe's prompts", "运行配方中的测试提示词"),
    "chat.col.prompt": ("Prompt", "提示词"),
    "chat.running_prompts": ("Answering {count} prompts with both…", "正在用两者回答 {count} 个提示词…"),
    "chat.saved": ("Saved to {path}", "已保存到 {path}"),
    "chat.saved_before": ("Saved earlier ({when}) in {path}", "之前（{when}）保存于 {path}"),
    "chat.export": ("Export", "导出"),
    "chat.export_info": ("Merges the adapter into the base weights with `llamafactory-cli export`, into `adapters/<run>/merged/` (loads with plain transformers). The export is a job of its own: closing this page or the studio does not stop it, and merged/ appears only when it is whole.", "用 `llamafactory-cli export` 把适配器合并进基础模型权重，写入 `adapters/<运行>/merged/`（可直接用 transformers 加载）。导出是独立的后台任务：关闭本页或 studio 都不会停止它，merged/ 只在完整写好后才出现。"),
    "chat.export_button": ("Merge and export", "合并并导出"),
    "chat.export_stop": ("Stop export", "停止导出"),
    "chat.export_log": ("Export log", "导出日志"),
    "chat.export_live": ("Exporting **{run}** into `{path}`: {state} · {number}/{total} {phase} · {elapsed}. It goes on if you close this page.", "正在把 **{run}** 导出到 `{path}`：{state} · {number}/{total} {phase} · {elapsed}。关闭本页它也会继续。"),
    "chat.exported": ("Merged model written to {path} ({files} files, {seconds} s).", "合并后的模型已写入 {path}（{files} 个文件，用时 {seconds} 秒）。"),
    "chat.export_ended": ("Export of {run} {state}: {reason}", "{run} 的导出{state}：{reason}"),
    "error.chat_input": ("Not sent:", "未发送："),
    "error.export": ("The export failed:", "导出失败："),
    "error.template_guard": ("Template `{asked}` is not the one run {run} was trained with (`{trained}`); chatting with another template is the usual cause of answers that never stop or repeat. Pick `{trained}`, or tick “Use this template anyway” if you know why.", "模板 `{asked}` 不是运行 {run} 训练时使用的模板（`{trained}`）；用其他模板对话，往往导致回答不停止或反复重复。请选择 `{trained}`；若确知原因，可勾选“仍然使用此模板”。"),
}

# recipe field path: (English label, Chinese label); the help is the schema field's own
# (its description, and the Chinese beside it in json_schema_extra)
FIELDS: dict[str, tuple[str, str]] = {
    "schema_version": ("Schema version", "格式版本"),
    "name": ("Name", "名称"),
    "description": ("Description", "说明"),
    "model.id": ("Base model", "基础模型"),
    "model.hub": ("Model hub", "模型仓库"),
    "model.template": ("Chat template", "对话模板"),
    "model.thinking": ("Thinking (Qwen3)", "思考（Qwen3）"),
    "model.template_override": ("Use this template anyway (experts)", "仍使用该模板（专家）"),
    "model.trust_remote_code": ("Trust remote code", "信任远程代码"),
    "data.datasets": ("Datasets", "数据集"),
    "data.files": ("Data files", "数据文件"),
    "data.format": ("File format", "文件格式"),
    "data.cutoff_len": ("Cutoff length", "截断长度"),
    "data.max_samples": ("Max samples", "最大样本数"),
    "data.val_size": ("Validation split", "验证集比例"),
    "data.packing": ("Packing", "样本拼接"),
    "lora.rank": ("Rank", "秩"),
    "lora.alpha": ("Alpha", "Alpha"),
    "lora.dropout": ("Dropout", "Dropout"),
    "lora.target": ("Target modules", "目标模块"),
    "lora.quantization": ("Quantization (QLoRA)", "量化（QLoRA）"),
    "train.stage": ("Training stage", "训练阶段"),
    "train.epochs": ("Epochs", "训练轮数"),
    "train.max_steps": ("Max steps", "最大步数"),
    "train.learning_rate": ("Learning rate", "学习率"),
    "train.scheduler": ("LR schedule", "学习率调度"),
    "train.warmup_steps": ("Warm-up steps", "预热步数"),
    "train.batch_size": ("Batch size", "批大小"),
    "train.grad_accum": ("Gradient accumulation", "梯度累积"),
    "train.precision": ("Precision", "精度"),
    "train.speed": ("Speed plan", "提速方案"),
    "train.seed": ("Seed", "随机种子"),
    "train.logging_steps": ("Logging steps", "日志间隔"),
    "train.save_steps": ("Save steps", "保存间隔"),
    "train.eval_steps": ("Eval steps", "验证间隔"),
    "hardware.device": ("Device", "设备"),
    "hardware.devices": ("Cards", "卡号"),
    "hardware.deepspeed": ("DeepSpeed ZeRO", "DeepSpeed ZeRO"),
    "hardware.offload": ("Offload to CPU", "卸载到 CPU"),
    "hardware.nodes.count": ("Nodes", "机器数"),
    "hardware.nodes.rank": ("Node rank", "本机序号"),
    "hardware.nodes.master_addr": ("Master address", "主节点地址"),
    "hardware.nodes.master_port": ("Master port", "主节点端口"),
    "hardware.nodes.interface": ("Network interface", "网络接口"),
    "eval.prompts": ("Test prompts", "测试提示词"),
    "extra": ("Extra arguments (YAML)", "额外参数（YAML）"),
}
# fmt: on


def t(key: str, lang: str, **values: object) -> str:
    """The text for ``key`` in ``lang``, with its placeholders filled: the studio's own texts
    first, then the core's catalogue (a run's state, …)."""
    if key not in TEXT:
        return Msg(key, values).text(lang)
    english, chinese = TEXT[key]
    text = chinese if lang == "zh" else english
    return text.format(**values) if values else text


def field_label(path: str, lang: str) -> str:
    english, chinese = FIELDS[path]
    return chinese if lang == "zh" else english


def field_help(path: str, lang: str) -> str:
    """A recipe field's help in ``lang``, from the schema (description, and its Chinese)."""
    return schema_help(_recipe_fields()[path], lang)


def chat_help(name: str, lang: str) -> str:
    """A chat setting's help in ``lang``, from its schema (lorastudio.chat.params)."""
    return schema_help(ChatParams.model_fields[name], lang)


def schema_help(info: FieldInfo, lang: str) -> str:
    """A schema field's help: its description, or the Chinese beside it (json_schema_extra)."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return str(extra.get("zh", info.description)) if lang == "zh" else info.description or ""


@functools.cache
def _recipe_fields() -> dict[str, FieldInfo]:
    return {field.path: field.info for field in recipe_fields()}
