"""What the core says about this machine, in English and Chinese: its accelerators and card ids,
the software a run needs (torch, CUDA, CANN, torch-npu, LLaMA-Factory and its package ranges),
what pre-flight finds (memory, disk, bf16, QLoRA on Ascend, DeepSpeed) and, for a multi-node
run, what node 0 finds on its network (lorastudio.checks.nodes: port, addresses, interface)."""

# fmt: off
TEXTS: dict[str, tuple[str, str]] = {
    # accelerators (lorastudio.machine.hardware)
    "machine.label.cuda": ("NVIDIA GPU", "NVIDIA GPU"),
    "machine.label.npu": ("Ascend NPU", "昇腾 NPU"),
    "machine.devices.cuda_one": ("1 NVIDIA GPU (ids {ids}: {names})", "1 块 NVIDIA GPU（编号 {ids}：{names}）"),
    "machine.devices.cuda_many": ("{count} NVIDIA GPUs (ids {ids}: {names})", "{count} 块 NVIDIA GPU（编号 {ids}：{names}）"),
    "machine.devices.npu_one": ("1 Ascend NPU (ids {ids}: {names})", "1 个昇腾 NPU（编号 {ids}：{names}）"),
    "machine.devices.npu_many": ("{count} Ascend NPUs (ids {ids}: {names})", "{count} 个昇腾 NPU（编号 {ids}：{names}）"),
    "machine.no_accelerator": ("no GPU or NPU", "没有 GPU 或 NPU"),
    "machine.none_of": ("no {label}", "没有 {label}"),
    "machine.cpu_cores": ("{count} CPU cores", "{count} 个 CPU 核"),
    "machine.device_unavailable": (
        "hardware.device is '{requested}' but no {label} was found ({tool} is missing, failed or listed none). Found: {found}",
        "hardware.device 为 '{requested}'，但没有找到 {label}（{tool} 不存在、运行失败或没有列出任何设备）。找到的是：{found}",
    ),
    "fix.device_unavailable": (
        "set hardware.device: {choices}, or run on a machine with that hardware and check that {tool} works there",
        "请把 hardware.device 设为 {choices}，或换到有该硬件的机器上运行，并确认 {tool} 在那里能正常运行",
    ),
    "machine.or": ("{first} or {second}", "{first} 或 {second}"),
    "problem.no_device": ("is not available here", "在本机不可用"),
    "fix.no_device": ("{message}; {fix}", "{message}；{fix}"),
    "problem.device_ids": ("does not match this machine", "与本机不符"),
    "machine.ids_for_cpu": (
        "device ids {ids} were given but the device is cpu; remove the device ids",
        "给出了设备编号 {ids}，但设备是 cpu；请删除这些设备编号",
    ),
    "machine.id_twice": ("{kind} device id {id} is listed more than once", "{kind} 设备编号 {id} 列出了不止一次"),
    "machine.no_such_id": (
        "{kind} device id {id} ({variable}) does not exist on this machine; found {found}",
        "{kind} 设备编号 {id}（{variable}）在本机不存在；找到的是：{found}",
    ),
    # software versions (lorastudio.machine.probe)
    "problem.package_range": (
        "is outside the range LLaMA-Factory 0.9.5 accepts ({name}{spec})",
        "不在 LLaMA-Factory 0.9.5 接受的版本范围内（{name}{spec}）",
    ),
    "fix.package_range": ('pip install "{name}{spec}"', '请执行 pip install "{name}{spec}"'),
    "problem.torch_cpu_only": (
        "needs a CUDA build of torch, but torch {torch} is a CPU-only build",
        "需要支持 CUDA 的 torch，但 torch {torch} 是只支持 CPU 的版本",
    ),
    "fix.torch_cuda": (
        "pip install torch from the CUDA index (https://pytorch.org/get-started/locally/)",
        "请从 CUDA 版的软件源安装 torch（https://pytorch.org/get-started/locally/）",
    ),
    "problem.torch_no_gpu": ("torch cannot use the GPUs nvidia-smi lists", "torch 无法使用 nvidia-smi 列出的 GPU"),
    "fix.check_driver": (
        "check the NVIDIA driver (nvidia-smi) and CUDA_VISIBLE_DEVICES",
        "请检查 NVIDIA 驱动（nvidia-smi）和 CUDA_VISIBLE_DEVICES",
    ),
    "problem.driver_too_old": (
        "torch {torch} is built for CUDA {cuda}, but the NVIDIA driver {driver} runs CUDA {driver_cuda} at most",
        "torch {torch} 是为 CUDA {cuda} 构建的，但 NVIDIA 驱动 {driver} 最高只支持 CUDA {driver_cuda}",
    ),
    "fix.update_driver": (
        "update the NVIDIA driver, or install torch built for CUDA {driver_cuda} or older",
        "请升级 NVIDIA 驱动，或安装为 CUDA {driver_cuda} 或更早版本构建的 torch",
    ),
    "problem.no_cann": (
        "needs the CANN toolkit's environment, which this shell has not set up",
        "需要 CANN 工具包的环境，但当前 shell 没有设置",
    ),
    "fix.set_env": (
        "{set_env} (install CANN first: LLaMA-Factory's NPU guide lists the versions)",
        "请执行 {set_env}（先安装 CANN：LLaMA-Factory 的 NPU 指南列出了对应版本）",
    ),
    "problem.no_torch_npu": ("needs torch-npu, which is missing", "需要 torch-npu，但它没有安装"),
    "problem.torch_npu_broken": ("needs torch-npu, which fails to import: {error}", "需要 torch-npu，但导入它失败：{error}"),
    "fix.install_torch_npu": (
        "pip install -e '.[npu]' (torch-npu {torch}), after {set_env}",
        "请先执行 {set_env}，再执行 pip install -e '.[npu]'（torch-npu {torch}）",
    ),
    "problem.torch_npu_mismatch": (
        "torch-npu {npu} is built for torch {built_for}, but torch {torch} is installed",
        "torch-npu {npu} 是为 torch {built_for} 构建的，但安装的是 torch {torch}",
    ),
    "fix.torch_npu_match": (
        "install the torch-npu release for torch {torch} (or that torch)",
        "请安装与 torch {torch} 对应的 torch-npu 版本（或安装与之对应的 torch）",
    ),
    "problem.torch_npu_no_npu": ("torch-npu {npu} sees no NPU (CANN {cann})", "torch-npu {npu} 看不到任何 NPU（CANN {cann}）"),
    "machine.unknown_version": ("unknown", "未知"),
    "fix.check_npu": (
        "check npu-smi info, ASCEND_RT_VISIBLE_DEVICES and that CANN matches torch-npu (Ascend's torch-npu release notes list the pairs)",
        "请检查 npu-smi info、ASCEND_RT_VISIBLE_DEVICES，以及 CANN 与 torch-npu 是否匹配（昇腾 torch-npu 的发布说明列出了对应关系）",
    ),
    "problem.torch_unimportable": ("cannot be imported ({reason})", "无法导入（{reason}）"),
    "fix.reinstall": ("reinstall: pip install -e . (see README, Install)", "请重新安装：pip install -e .（见 README 的安装一节）"),
    "machine.probe_timeout": (
        "the version probe did not answer within {seconds} s",
        "版本探测没有在 {seconds} 秒内返回",
    ),
    "machine.probe_failed": ("the version probe failed: {tail}", "版本探测失败：{tail}"),
    "machine.probe_no_output": ("no output", "没有输出"),
    # LLaMA-Factory itself (lorastudio.llamafactory)
    "error.not_installed": ("{package} is not installed", "{package} 没有安装"),
    "error.package_file_missing": ("{package} is installed but {file} is missing", "{package} 已安装，但缺少 {file}"),
    "fix.install_studio": (
        "install LoRA Studio with `pip install -e .`",
        "请用 `pip install -e .` 安装 LoRA Studio（会一并安装 LLaMA-Factory）",
    ),
    "error.parser_unavailable": (
        "LLaMA-Factory's parser could not be run: {reason}",
        "无法运行 LLaMA-Factory 的参数解析器：{reason}",
    ),
    "machine.parser_exit": ("it exited with {code}", "它以退出码 {code} 结束"),
    # pre-flight: the device rules (lorastudio.checks.preflight)
    "problem.quantization_cpu": ("needs a GPU (bitsandbytes), not the CPU", "需要 GPU（bitsandbytes），不能在 CPU 上使用"),
    "fix.set_none": ("set it to none", "请设为 none"),
    "problem.npu_qlora_8bit": (
        "on Ascend, LLaMA-Factory supports QLoRA with 4-bit bitsandbytes only",
        "在昇腾上，LLaMA-Factory 只支持 4 比特 bitsandbytes 的 QLoRA",
    ),
    "fix.npu_qlora_4bit": ("set lora.quantization: 4, or none", "请设 lora.quantization: 4，或 none"),
    "problem.npu_no_bitsandbytes": ("needs bitsandbytes built for Ascend NPUs", "需要为昇腾 NPU 构建的 bitsandbytes"),
    "problem.npu_bitsandbytes_backend": (
        "QLoRA on Ascend needs bitsandbytes' NPU backend (multi-backend-refactor); a CUDA build of bitsandbytes fails when the model loads",
        "昇腾上的 QLoRA 需要 bitsandbytes 的 NPU 后端（multi-backend-refactor 分支）；CUDA 版的 bitsandbytes 会在加载模型时失败",
    ),
    "fix.npu_bitsandbytes": (
        "build bitsandbytes for Ascend (git clone -b multi-backend-refactor https://github.com/bitsandbytes-foundation/bitsandbytes; cmake -DCOMPUTE_BACKEND=npu -S .; make; pip install .), or set lora.quantization: none",
        "请为昇腾构建 bitsandbytes（git clone -b multi-backend-refactor https://github.com/bitsandbytes-foundation/bitsandbytes; cmake -DCOMPUTE_BACKEND=npu -S .; make; pip install .），或设 lora.quantization: none",
    ),
    "problem.no_bitsandbytes": ("needs bitsandbytes, which is not installed", "需要 bitsandbytes，但它没有安装"),
    "fix.bitsandbytes": (
        "pip install -e '.[qlora]' (bitsandbytes>=0.43), or set lora.quantization: none",
        "请执行 pip install -e '.[qlora]'（bitsandbytes>=0.43），或设 lora.quantization: none",
    ),
    "problem.qlora8_zero3": (
        "cannot be sharded by ZeRO-3 (LLaMA-Factory: only 4-bit models can use ZeRO-3 or FSDP with QLoRA)",
        "无法被 ZeRO-3 切分（LLaMA-Factory：QLoRA 只有 4 比特模型能使用 ZeRO-3 或 FSDP）",
    ),
    "fix.qlora8_zero3": ("set lora.quantization: 4, or hardware.deepspeed: 2", "请设 lora.quantization: 4，或 hardware.deepspeed: 2"),
    "problem.inference_cards": (
        "are {names} inference cards, which cannot train",
        "是 {names} 推理卡，不能用于训练",
    ),
    "fix.training_cards": (
        "train on Atlas A2/A3 (910B/910C) NPUs or on GPUs",
        "请在 Atlas A2/A3（910B/910C）NPU 或 GPU 上训练",
    ),
    "problem.no_bf16": (
        "needs bf16 hardware, and these cards ({names}) compute in fp16 only (the first-generation Ascend 910 and pre-Ampere NVIDIA GPUs lack bf16)",
        "需要支持 bf16 的硬件，而这些卡（{names}）只支持 fp16（第一代昇腾 910 和 Ampere 之前的 NVIDIA GPU 都不支持 bf16）",
    ),
    "fix.fp16": ("set train.precision: fp16 (auto picks it on these cards)", "请设 train.precision: fp16（在这些卡上 auto 会自动选它）"),
    "problem.needs_deepspeed": ("needs DeepSpeed, which is not installed", "需要 DeepSpeed，但它没有安装"),
    "fix.deepspeed": (
        "pip install -e '.[deepspeed]', or set hardware.deepspeed: none",
        "请执行 pip install -e '.[deepspeed]'，或设 hardware.deepspeed: none",
    ),
    # pre-flight: memory and disk (lorastudio.checks.preflight, lorastudio.models.memory)
    "memory.estimate": (
        "{total} (weights {weights}, LoRA + optimizer {lora}, activations {activations}, logits {logits}, runtime {overhead})",
        "{total}（权重 {weights}，LoRA + 优化器 {lora}，激活值 {activations}，logits {logits}，运行时 {overhead}）",
    ),
    "memory.suggestion": ("{settings} (about {total} per card)", "{settings}（每张卡约 {total}）"),
    "memory.ram": ("RAM available", "可用内存"),
    "memory.free_on": ("free on {kind} {index} ({name})", "{kind} {index}（{name}）上的空闲显存"),
    "note.memory_skipped": (
        "memory: no config.json for {model} here and it is not in the model catalogue, so the memory check was skipped",
        "内存：本机没有 {model} 的 config.json，它也不在模型目录中，所以跳过了内存检查",
    ),
    "problem.weights_do_not_fit": (
        "needs about {estimate} per card, more than the {budget} {where}; its weights alone do not fit",
        "每张卡约需 {estimate}，超过了{where} {budget}；光是权重就放不下",
    ),
    "problem.may_not_fit": (
        "with batch {batch} × {cutoff} tokens, needs about {estimate} per card, more than the {budget} {where}; it may not fit",
        "批大小 {batch} × {cutoff} 个 token 时，每张卡约需 {estimate}，超过了{where} {budget}；可能放不下",
    ),
    "fix.set_suggestion": ("set {suggestion}", "请设置 {suggestion}"),
    "fix.memory_no_fit": (
        "use more cards with hardware.deepspeed: 3, QLoRA, or a smaller model",
        "请用 hardware.deepspeed: 3 配合更多的卡、使用 QLoRA，或换一个更小的模型",
    ),
    "problem.disk": (
        "makes about {count} checkpoints, {needed} with the adapter, but only {free} is free under {path}",
        "会产生约 {count} 个检查点，连同适配器共需 {needed}，但 {path} 下只有 {free} 空闲",
    ),
    "fix.free_disk": ("free disk space there, or raise train.save_steps", "请在那里腾出磁盘空间，或调大 train.save_steps"),
    "problem.interface_unset_npu": (
        "is not set: HCCL picks a network interface by itself, and LLaMA-Factory's NPU guide sets HCCL_SOCKET_IFNAME on every node",
        "未设置：HCCL 会自己挑选网卡，而 LLaMA-Factory 的 NPU 指南在每个节点上都设置了 HCCL_SOCKET_IFNAME",
    ),
    "fix.interface_npu": ("set it to the interface the nodes share, e.g. eth0", "请设为各节点共用的网卡，如 eth0"),
    # a multi-node run, as node 0 sees it (lorastudio.checks.nodes)
    "problem.port_in_use": (
        "is already in use on this machine (another run, or another program), so node 0 cannot host the rendezvous there",
        "在本机已被占用（另一个运行或其他程序），节点 0 无法在这个端口上建立会合点",
    ),
    "fix.free_port": (
        "pick a free port, e.g. --master-port {port} on every node (or set hardware.nodes.master_port)",
        "请换一个空闲端口，例如在每个节点上都加 --master-port {port}（或设置 hardware.nodes.master_port）",
    ),
    "problem.loopback": (
        "is a loopback address: only nodes on this same machine can reach it",
        "是回环地址：只有同一台机器上的节点能访问它",
    ),
    "fix.shared_address": (
        "set it to this machine's address on the network the nodes share",
        "请设为本机在各节点共用网络上的地址",
    ),
    "problem.not_this_machine": (
        "is not an address of this machine, but this is node 0 (the master)",
        "不是本机的地址，而本机是节点 0（主节点）",
    ),
    "fix.master_here": (
        "run node 0 on the machine with that address, or set --master-addr to this one's",
        "请在拥有该地址的机器上运行节点 0，或把 --master-addr 设为本机的地址",
    ),
    "problem.no_interface": (
        "is not a network interface of this machine (it has {names})",
        "不是本机的网络接口（本机有：{names}）",
    ),
    "fix.interface": (
        "name the interface the nodes reach each other on, or remove it",
        "请写各节点互连所用的网卡名，或删除这一项",
    ),
}
# fmt: on
