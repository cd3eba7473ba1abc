"""The speed plan (lorastudio/llamafactory/speed.py), as `compile` and the studio say it."""

# fmt: off
TEXTS: dict[str, tuple[str, str]] = {
    "speed.plan": ("speed plan: {parts}", "提速方案：{parts}"),
    "speed.mode_off": ("off (train.speed: off): LLaMA-Factory's defaults", "关闭（train.speed: off）：使用 LLaMA-Factory 的默认设置"),
    "speed.mode_cpu": ("none on a CPU: the recipe runs as written", "CPU 上不启用：按配方原样运行"),
    "speed.no_card": (
        "no card here to size the batch for, so the batch is as written (compile on the training machine to see the full plan)",
        "本机没有可用来确定批大小的卡，批大小按配方（在训练机器上 compile 可看到完整方案）",
    ),
    "speed.no_fit": (
        "nothing fits in the {budget} usable on {card}, so the batch is as written (pre-flight says what to change)",
        "{card} 上可用的 {budget} 放不下任何方案，批大小按配方（预检会说明该改什么）",
    ),
    "speed.batch_changed": (
        "batch {batch} × accumulation {accum} instead of {written_batch} × {written_accum} (the same effective batch)",
        "批大小 {batch} × 累积 {accum}，而不是 {written_batch} × {written_accum}（有效批大小不变）",
    ),
    "speed.batch_kept": ("batch {batch} × accumulation {accum}", "批大小 {batch} × 累积 {accum}"),
    "speed.checkpointing_on": ("gradient checkpointing on", "梯度检查点开启"),
    "speed.checkpointing_off": (
        "gradient checkpointing off (nothing recomputed: about a third less compute)",
        "梯度检查点关闭（不重算：计算量约少三分之一）",
    ),
    "speed.packing_packed": (
        "examples packed into full rows (an example can attend to earlier ones in its row)",
        "样本拼接成整行（样本能看到同一行中它前面的样本）",
    ),
    "speed.packing_neat": (
        "examples packed into full rows without attention across them",
        "样本拼接成整行，样本之间互不注意",
    ),
    "speed.grouped": ("examples of similar length batched together (less padding)", "长度相近的样本放在同一批（更少填充）"),
    "speed.liger": ("Liger kernels (the loss without whole logits)", "Liger 算子（计算损失时不生成完整 logits）"),
    "speed.attention": ("attention: {attention}", "注意力实现：{attention}"),
    "speed.fits": ("about {estimate} of {budget} usable on {card}", "约需 {estimate}，{card} 上可用 {budget}"),
    "speed.extra_wins": ("extra sets {keys} itself, and it wins", "extra 自己设置了 {keys}，以它为准"),
}
