"""What the core says about models, in English and Chinese: the template guard (a template that
does not fit the model, thinking the model cannot do, a model it cannot recognise), families it
does not train yet, pre-flight's advice when a catalogued model does not fit this machine, and
the `models` command's words."""

# fmt: off
TEXTS: dict[str, tuple[str, str]] = {
    # the template guard (lorastudio.models.templates)
    "problem.template_misfit": (
        "'{template}' does not fit {model} ({family}), which needs '{expected}'; a wrong template trains the model to answer in another format than it chats in",
        "'{template}' 不适合 {model}（{family}），它需要 '{expected}'；模板不对，模型就会按一种格式训练、按另一种格式对话",
    ),
    "fix.template_misfit": (
        "set model.template: auto (it picks '{expected}'), or keep '{template}' with model.template_override: true if you know why (experts)",
        "请设 model.template: auto（会选 '{expected}'）；若确知原因要保留 '{template}'，请设 model.template_override: true（专家选项）",
    ),
    "problem.unknown_family": (
        "cannot tell which chat template {model} needs: it is not in the model catalogue and this machine has no config.json for it",
        "无法判断 {model} 需要哪个对话模板：它不在模型目录中，本机也没有它的 config.json",
    ),
    "problem.unknown_model_type": (
        "cannot tell which chat template {model} needs: its config.json says model_type '{type}', not a Qwen family LoRA Studio knows",
        "无法判断 {model} 需要哪个对话模板：它的 config.json 写的 model_type 是 '{type}'，不是 LoRA Studio 认识的 Qwen 系列",
    ),
    "fix.unknown_family": (
        "set model.template to its LLaMA-Factory template (qwen for Qwen2/2.5, qwen3 for Qwen3; `python launch.py templates` lists all), or pick a catalogued model (`python launch.py models`)",
        "请把 model.template 设为它的 LLaMA-Factory 模板（Qwen2/2.5 用 qwen，Qwen3 用 qwen3；`python launch.py templates` 列出全部），或选目录中的模型（`python launch.py models`）",
    ),
    "problem.unsupported_family": ("{model} is a {family} model: {reason}", "{model} 是 {family} 模型：{reason}"),
    "models.reason.vision_language": (
        "a vision-language model (images and video as input), which LoRA Studio does not train yet",
        "视觉语言模型（以图像和视频为输入），LoRA Studio 暂不支持训练",
    ),
    "models.reason.hybrid_attention": (
        "its linear-attention layers are outside LoRA Studio's memory estimate and have not been trained here, so it is not offered yet",
        "它的线性注意力层不在 LoRA Studio 的内存估算之内，也没有在这里训练过，所以暂不提供",
    ),
    "fix.text_model": (
        "pick a text model from `python launch.py models` (Qwen3 is the nearest); experts may set model.template and model.template_override: true",
        "请从 `python launch.py models` 中选一个文本模型（最接近的是 Qwen3）；专家可设置 model.template 并设 model.template_override: true",
    ),
    "problem.cannot_think": (
        "{model} does not think: its template '{template}' has no thinking block",
        "{model} 不会思考：它的模板 '{template}' 没有思考段",
    ),
    "fix.thinking_auto_off": ("set model.thinking: auto or off", "请设 model.thinking: auto 或 off"),
    "problem.must_think": (
        "{model} always thinks before it answers; training it without thinking would unlearn that",
        "{model} 总是先思考再回答；不带思考训练会让它丢掉这个能力",
    ),
    "fix.thinking_auto_on": (
        "set model.thinking: auto or on, or pick the model's Instruct-2507 sibling, which answers without thinking",
        "请设 model.thinking: auto 或 on，或改用不思考直接回答的 Instruct-2507 版本",
    ),
    "problem.template_never_thinks": (
        "cannot be on with template '{template}', which never thinks",
        "模板 '{template}' 从不思考，不能设为 on",
    ),
    "fix.thinking_template": (
        "set model.template: auto (it picks '{thinking}' for thinking), or model.thinking: off",
        "请设 model.template: auto（需要思考时会选 '{thinking}'），或设 model.thinking: off",
    ),
    # what a run trains with (pre-flight notes, lorastudio.checks.preflight)
    "note.template": ("chat template: {template} ({how})", "对话模板：{template}（{how}）"),
    "note.template_thinking": ("chat template: {template}, {thinking} ({how})", "对话模板：{template}，{thinking}（{how}）"),
    "models.how.catalogue": ("from the catalogue: {model}", "来自模型目录：{model}"),
    "models.how.folder": ("from {path}: model_type {type}", "来自 {path}：model_type {type}"),
    "models.how.explicit": ("as the recipe sets it", "按配方的设置"),
    "models.how.override": ("as the recipe sets it, past the template guard", "按配方的设置，越过了模板检查"),
    "models.thinking.on": ("thinking on", "开启思考"),
    "models.thinking.off": ("thinking off", "关闭思考"),
    # pre-flight's advice when a model does not fit this machine (lorastudio.models.memory)
    "fix.cpu_no_fit": (
        "train it on a GPU or NPU machine, or pick a smaller model: {smaller}",
        "请在有 GPU 或 NPU 的机器上训练，或换一个更小的模型：{smaller}",
    ),
    "fix.cpu_no_fit_any": (
        "train it on a GPU or NPU machine; no model of its family fits this CPU's memory either",
        "请在有 GPU 或 NPU 的机器上训练；同系列的模型在这台机器的内存里都放不下",
    ),
    "memory.smaller_model": ("model.id: {model} (about {total})", "model.id: {model}（约 {total}）"),
    "fix.zero3_cards": (
        "shard it with hardware.deepspeed: 3 over {cards} cards like these (hardware.devices), or pick a smaller model",
        "请用 hardware.deepspeed: 3 把它切分到 {cards} 张这样的卡上（hardware.devices），或换一个更小的模型",
    ),
    "fix.moe_no_fit": (
        "all {experts} experts of each layer must be in memory, though only {active} run per token: shard them with hardware.deepspeed: 3 over {cards} cards like these, or pick a dense model",
        "每层全部 {experts} 个专家都必须放在内存里，尽管每个 token 只用 {active} 个：请用 hardware.deepspeed: 3 把它们切分到 {cards} 张这样的卡上，或换一个稠密模型",
    ),
    "fix.more_nodes": (
        "it needs about {cards} cards like these with hardware.deepspeed: 3, more than one machine holds: use several machines (hardware.nodes), or pick a smaller model",
        "用 hardware.deepspeed: 3 也需要约 {cards} 张这样的卡，超过一台机器的容量：请用多台机器（hardware.nodes），或换一个更小的模型",
    ),
    # the `models` command (lorastudio.cli.models) and the studio's model picker
    "models.header": (
        "{count} models in the catalogue ({families}). Memory per card for a LoRA of rank {rank}, batch {batch}, cutoff {cutoff}, as pre-flight estimates it.",
        "模型目录中有 {count} 个模型（{families}）。每张卡的内存按秩 {rank}、批大小 {batch}、截断长度 {cutoff} 的 LoRA 估算，与预检的算法相同。",
    ),
    "models.machine": (
        "This machine: {budget} {where}; a run here trains in {precision}.",
        "本机：{where} {budget}；在这里运行按 {precision} 训练。",
    ),
    "models.col.model": ("MODEL (HUGGING FACE = MODELSCOPE)", "模型（HUGGING FACE = MODELSCOPE）"),
    "models.col.family": ("FAMILY", "系列"),
    "models.col.size": ("SIZE", "规模"),
    "models.col.variant": ("VARIANT", "版本"),
    "models.col.template": ("TEMPLATE", "模板"),
    "models.col.params": ("PARAMS", "参数量"),
    "models.col.lora": ("LORA BF16", "LoRA bf16 内存"),
    "models.col.qlora": ("QLORA 4-BIT", "QLoRA 4 位内存"),
    "models.col.here": ("THIS MACHINE", "本机"),
    "models.col.id": ("HUB ID", "模型 ID"),
    "models.col.cache": ("CACHE", "缓存"),
    "models.col.type": ("MODEL_TYPE", "模型类型"),
    "models.col.path": ("FOLDER", "目录"),
    "models.modelscope_id": ("{id} (ModelScope: {modelscope})", "{id}（ModelScope：{modelscope}）"),
    "models.active": ("{total} ({active} active)", "{total}（激活 {active}）"),
    "models.variant.base": ("base", "基础"),
    "models.variant.instruct": ("instruct", "指令"),
    "models.variant.hybrid": ("instruct (hybrid)", "指令（混合思考）"),
    "models.variant.instruct_2507": ("instruct-2507", "指令 2507"),
    "models.variant.thinking_2507": ("thinking-2507", "思考 2507"),
    "models.fits": ("fits", "放得下"),
    "models.qlora": ("only QLoRA 4-bit fits", "仅 QLoRA 4 位放得下"),
    "models.tight": ("may not fit", "可能放不下"),
    "models.no_fit": ("does not fit", "放不下"),
    "models.unsupported": ("not supported yet", "暂不支持"),
    "models.unknown_family": ("not a family LoRA Studio knows", "不是 LoRA Studio 认识的系列"),
    "models.cache.huggingface": ("Hugging Face cache", "Hugging Face 缓存"),
    "models.cache.modelscope": ("ModelScope cache", "ModelScope 缓存"),
    "models.local_header": ("Models in this machine's Hugging Face and ModelScope caches ({hf}, {ms}):", "本机 Hugging Face 和 ModelScope 缓存（{hf}、{ms}）中的模型："),
    "models.local_none": (
        "No models in this machine's caches ({hf}, {ms}).",
        "本机缓存（{hf}、{ms}）中没有模型。",
    ),
    "models.params": ("{total} parameters", "{total} 参数"),
    "models.params_moe": ("{total} parameters, {active} active", "{total} 参数，激活 {active}"),
}
# fmt: on
