"""What the core says about runs — their states, why they ended, what cannot be done with them —
in English and Chinese (lorastudio.runs, lorastudio.launch)."""

# fmt: off
TEXTS: dict[str, tuple[str, str]] = {
    # states (RunState)
    "state.queued": ("queued", "排队中"),
    "state.starting": ("starting", "启动中"),
    "state.running": ("running", "运行中"),
    "state.stopping": ("stopping", "停止中"),
    "state.succeeded": ("succeeded", "已完成"),
    "state.failed": ("failed", "失败"),
    "state.stopped": ("stopped", "已停止"),
    "state.cancelled": ("cancelled", "已取消"),
    "state.unknown": ("unknown", "未知"),
    # why a run is as it is (status.json's reason)
    "reason.stopped": ("stopped by request at step {step} ({how}; {saved})", "应请求在第 {step} 步停止（{how}；{saved}）"),
    "reason.stopped_cleanly": ("stopped cleanly", "正常停止"),
    "reason.killed_after_grace": ("killed after {seconds} s grace", "等待 {seconds} 秒后被强制结束"),
    "reason.adapter_saved": ("the adapter trained so far is saved", "目前训练好的适配器已保存"),
    "reason.no_adapter_saved": ("no adapter was saved", "没有保存适配器"),
    "reason.node_done": ("node {rank}'s ranks finished; the adapter is on node 0 ({master})", "节点 {rank} 的进程已完成；适配器在节点 0（{master}）上"),
    "reason.supervisor_failed": ("the supervisor failed: {error}", "监督进程出错：{error}"),
    "reason.vanished": (
        "the run's supervisor process disappeared (machine restart or kill -9); `python launch.py resume` continues from the last checkpoint",
        "运行的监督进程消失了（机器重启或 kill -9）；`python launch.py resume` 会从最近的检查点接着训练",
    ),
    "reason.stopped_without_supervisor": ("stopped by request at step {step} (its supervisor was gone; {saved})", "应请求在第 {step} 步停止（监督进程已不在；{saved}）"),
    "reason.cancelled": ("cancelled while it waited in the queue; it never started", "在队列中等待时被取消；它没有启动过"),
    "reason.oom_fallback": (
        "out of memory at step {step}; started once more with the speed plan's safer settings ({changes})",
        "第 {step} 步显存不足；已按提速方案的更稳妥设置重新开始一次（{changes}）",
    ),
    "reason.stopped_before_start": ("stopped by request before training started", "在训练开始前应请求停止"),
    "reason.supervisor_lost": ("its supervisor process disappeared; {outcome}", "它的监督进程消失了；{outcome}"),
    "reason.finished_evidence": ("the trainer logged every step ({step}/{total}) and wrote its adapter", "训练进程记录了全部步数（{step}/{total}）并写出了适配器"),
    "reason.unfinished_evidence": (
        "training got to step {step} of {total}; `python launch.py resume` continues from the last checkpoint",
        "训练进行到第 {step} 步（共 {total} 步）；`python launch.py resume` 会从最近的检查点接着训练",
    ),
    # a status.json that cannot be read (RunStatus.damaged) and what is done about it
    "status.unreadable": ("it cannot be read: {error}", "无法读取：{error}"),
    "status.not_object": ("it holds no JSON object", "其中不是 JSON 对象"),
    "status.wrong_types": ("values of the wrong type: {fields}", "这些值的类型不对：{fields}"),
    "reason.status_damaged": ("{path} is damaged ({why}); {outcome}", "{path} 已损坏（{why}）；{outcome}"),
    "reason.damaged_live": (
        "the run's processes still run, so it counts as running: stop it with `python launch.py stop {run}`, and the file is written anew when it ends",
        "这次运行的进程仍在运行，因此视为运行中：可用 `python launch.py stop {run}` 停止它，结束时会重新写出该文件",
    ),
    "reason.damaged_rebuilt": (
        "it was written anew from the run's files, the damaged one kept as {kept}: {outcome}",
        "已根据运行目录中的文件重新写出，损坏的文件另存为 {kept}：{outcome}",
    ),
    "reason.damaged_worked_out": (
        "the state is worked out from the run's files until the file can be written again (free disk space): {outcome}",
        "在能重新写出该文件之前（请腾出磁盘空间），状态根据运行目录中的文件得出：{outcome}",
    ),
    "reason.k8s_waiting": ("waiting for the Training Operator", "正在等待 Training Operator"),
    "reason.k8s_restarting": ("restarting a failed pod", "正在重启失败的 pod"),
    "reason.k8s_said": ("the cluster says: {text}", "集群报告：{text}"),
    "reason.k8s_deleted": ("the PyTorchJob {job} is no longer on the cluster (deleted)", "PyTorchJob {job} 已不在集群上（已被删除）"),
    "reason.k8s_stopped": ("PyTorchJob {job} deleted on request (checkpoints stay on the claim)", "已应请求删除 PyTorchJob {job}（检查点仍保留在存储卷上）"),
    "run.k8s_resume": ("run {run} ran on Kubernetes", "运行 {run} 是在 Kubernetes 上运行的"),
    "fix.k8s_submit_again": ("submit its recipe again with `python launch.py k8s {path} --submit`", "请用 `python launch.py k8s {path} --submit` 重新提交它的配方"),
    # why a run failed, by the diagnosis of its log (lorastudio.runs.diagnosis)
    "failure.disk_full": (
        "the disk is full: free space in the adapters folder (old checkpoint-* folders) or raise train.save_steps",
        "磁盘已满：请清理 adapters 目录（旧的 checkpoint-* 目录）或调大 train.save_steps",
    ),
    "failure.out_of_memory": (
        "the accelerator ran out of memory: lower train.batch_size (raise train.grad_accum to keep the effective batch), lower data.cutoff_len, use lora.quantization: 4, or hardware.deepspeed: 3",
        "加速卡显存不足：请调小 train.batch_size（同时调大 train.grad_accum 以保持有效批大小）、调小 data.cutoff_len，或使用 lora.quantization: 4 或 hardware.deepspeed: 3",
    ),
    "failure.model_not_found": (
        "the base model could not be loaded: check model.id (a hub id needs network access to the hub; otherwise download the model and give its local folder)",
        "无法加载基础模型：请检查 model.id（模型仓库 id 需要能访问模型仓库；否则请先下载模型，再填写其本地目录）",
    ),
    "failure.dataset_not_found": (
        "a dataset could not be loaded: check data.datasets and data.files, and that the data folder holds the files its dataset_info.json names",
        "无法加载数据集：请检查 data.datasets 和 data.files，以及数据目录中是否有 dataset_info.json 所列的文件",
    ),
    "failure.data_layout": (
        "a dataset's records do not have the columns LLaMA-Factory looks for: data.files need data.format (alpaca: instruction/input/output; sharegpt: conversations of from/value), and a registered dataset needs \"columns\" in dataset_info.json when its names differ",
        "数据集的记录缺少 LLaMA-Factory 要找的列：data.files 需要与 data.format 一致（alpaca：instruction/input/output；sharegpt：由 from/value 组成的 conversations），已注册的数据集列名不同时需在 dataset_info.json 中写 \"columns\"",
    ),
    "failure.bad_template": (
        "LLaMA-Factory does not know model.template: use qwen for Qwen2/2.5, qwen3 for Qwen3",
        "LLaMA-Factory 不认识 model.template：Qwen2/2.5 用 qwen，Qwen3 用 qwen3",
    ),
    "failure.bad_target": (
        "lora.target names modules this model does not have: use all, or names like q_proj, v_proj",
        "lora.target 指定了模型中不存在的模块：请用 all，或 q_proj、v_proj 这样的名称",
    ),
    "failure.peer_lost": (
        "another process of this distributed run stopped, crashed or could not be reached: look at the other nodes' runs (a stop on node 0 ends the others this way); check hardware.nodes.master_addr/master_port and hardware.nodes.interface",
        "这次分布式训练的另一个进程停止、崩溃或无法连接：请查看其他节点上的运行（在节点 0 上停止会这样结束其他节点）；并检查 hardware.nodes.master_addr/master_port 和 hardware.nodes.interface",
    ),
    "failure.nan_loss": (
        "the loss became NaN: lower train.learning_rate, raise train.warmup_steps, or use bf16 instead of fp16",
        "损失变成了 NaN：请调低 train.learning_rate、调大 train.warmup_steps，或用 bf16 代替 fp16",
    ),
    "failure.killed": (
        "the trainer was killed (SIGKILL), most often by the system running out of RAM: lower train.batch_size or data.cutoff_len",
        "训练进程被杀死（SIGKILL），通常是系统内存不足：请调小 train.batch_size 或 data.cutoff_len",
    ),
    "failure.signal": ("the trainer was ended by signal {name}", "训练进程被信号 {name} 结束"),
    "failure.error": ("the trainer failed: {line}", "训练进程出错：{line}"),
    "failure.unknown": ("the trainer exited with code {code}; see train.log", "训练进程退出，退出码 {code}；请查看 train.log"),
    # what cannot be done with a run (RunError)
    "run.no_match": ("no run matches '{ref}'", "没有与 '{ref}' 匹配的运行"),
    "fix.list_runs": ("`python launch.py runs` lists them", "`python launch.py runs` 会列出全部运行"),
    "run.ambiguous": ("'{ref}' matches several runs ({names})", "'{ref}' 匹配到多个运行（{names}）"),
    "fix.more_of_the_id": ("give more of the id", "请写出更完整的运行 id"),
    "run.folder_taken": ("could not create a run folder for {name} in {folder}", "无法在 {folder} 中为 {name} 创建运行目录"),
    "fix.folder_taken": ("wait a second and start it again", "请稍等一秒后重新启动"),
    "run.live_delete": ("run {run} is {state}", "运行 {run} 处于{state}状态"),
    "fix.stop_first": ("stop it before deleting it", "请先停止再删除"),
    "run.export_live_delete": ("run {run} is being exported ({state})", "运行 {run} 正在导出（{state}）"),
    "fix.stop_export_first": ("wait for the export to end, or stop it first (`python launch.py export {run} --stop`)", "请等导出结束，或先停止它（`python launch.py export {run} --stop`）"),
    "run.not_running": ("run {run} is not running (it is {state})", "运行 {run} 不在进行中（状态：{state}）"),
    "run.still_live": ("run {run} is still {state}", "运行 {run} 仍处于{state}状态"),
    "fix.wait_or_stop": ("wait until it ends, or stop it (python launch.py stop {run})", "请等它结束，或停止它（python launch.py stop {run}）"),
    "run.finished": ("run {run} already finished", "运行 {run} 已经完成"),
    "fix.new_run": ("start a new run to train more", "要继续训练请新建一次运行"),
    "run.no_checkpoint": ("run {run} has no checkpoint to resume from (one is written every train.save_steps={every} steps)", "运行 {run} 没有可恢复的检查点（每 train.save_steps={every} 步写一个）"),
    "fix.train_again": ("start it again with `python launch.py train`", "请用 `python launch.py train` 重新开始"),
    "run.multinode_resume": (
        "run {run} is one node of a multi-node run, which cannot be resumed yet: every node keeps its own run folder, and only node 0's checkpoints hold the adapter and optimizer state",
        "运行 {run} 是多机训练中的一个节点，目前还不能继续：每个节点有自己的运行目录，只有节点 0 的检查点保存了适配器和优化器状态",
    ),
    "fix.start_every_node": ("start the run again on every node", "请在每个节点上重新开始这次训练"),
    "run.no_supervisor": ("the run's supervisor did not start within {seconds} s", "运行的监督进程没有在 {seconds} 秒内启动"),
    "run.supervisor_not_started": ("the run's supervisor could not be started: {reason}", "无法启动运行的监督进程：{reason}"),
    "fix.see_log": ("see {path}", "请查看 {path}"),
    "run.empty_ref": ("no run id given", "没有给出运行 id"),
    "run.no_space": ("there is no space left on the disk that holds {path}", "{path} 所在的磁盘没有剩余空间"),
    "fix.free_space": (
        "free some space there (old checkpoint-* folders, merged/ exports, runs you no longer need) and try again",
        "请在那里腾出空间（旧的 checkpoint-* 目录、merged/ 导出、不再需要的运行）后重试",
    ),
    "run.incomplete_checkpoints": (
        "run {run} has no whole checkpoint to resume from: {names} was cut short (no readable trainer_state.json; the disk may have filled up while it was written)",
        "运行 {run} 没有完整的检查点可供恢复：{names} 没有写完（没有可读的 trainer_state.json；写入时磁盘可能已满）",
    ),
    "device.any": ("every device (which one it uses is not known)", "所有设备（不知道它用的是哪种设备）"),
    "run.device_busy": ("{devices} is in use by run {holder} ({state})", "{devices} 正被运行 {holder}（{state}）占用"),
    "fix.device_busy": (
        "wait until it ends, stop it (python launch.py stop {holder}), or pick other cards with hardware.devices",
        "请等它结束、停止它（python launch.py stop {holder}），或用 hardware.devices 选择其他卡",
    ),
    "run.device_queued": ("{devices} is waited for by run {holder} ({state}), which goes first", "{devices} 已有运行 {holder}（{state}）在等候，它优先"),
    # the queue (lorastudio.runs.queue, `python launch.py queue`)
    "queue.place": ("queued, {nth} in line for {devices}", "已排队，在 {devices} 的队列中排{nth}"),
    "queue.queued": (
        "run {run} {place}: it starts by itself when they are free, also with the studio closed; `python launch.py stop {run}` cancels it, `python launch.py queue up {run}` moves it up",
        "运行 {run} {place}：设备空出后会自动启动（关闭工作室也一样）；`python launch.py stop {run}` 可取消，`python launch.py queue up {run}` 可前移",
    ),
    "queue.waiting": ("[queued] {place}; waiting for its turn…", "[排队中] {place}；等待轮到它…"),
    "queue.interrupted": ("Cancel the queued run (c) or leave it in the queue (d)? [d]", "取消这个排队的运行（c），还是让它继续排队（d）？[d]"),
    "queue.left": (
        "left in the queue: it starts by itself when its turn comes. Follow it with: python launch.py logs {run} --follow",
        "已留在队列中：轮到它时会自动启动。可用 python launch.py logs {run} --follow 跟踪它",
    ),
    "queue.moved": ("run {run} {place}", "运行 {run} {place}"),
    "queue.empty": ("the queue is empty: every run has its devices", "队列是空的：每个运行都已拿到设备"),
    "queue.columns": ("PLACE  RUN  DEVICES  QUEUED AT", "位次  运行  设备  排队时间"),
    "queue.first_already": ("run {run} is first in line for its devices already", "运行 {run} 已经排在它所需设备队列的第一位"),
    "fix.queue_first": ("it starts as soon as they are free", "设备一空出来它就会启动"),
    "queue.not_queued": ("run {run} is not queued (it is {state})", "运行 {run} 不在队列中（状态：{state}）"),
    "fix.queue_list": ("`python launch.py queue` lists the queue", "`python launch.py queue` 会列出队列"),
}
# fmt: on
