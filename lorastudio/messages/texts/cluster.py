"""What the core's cluster area says, in English and Chinese: a recipe that cannot run on a
cluster as written, and what the Kubernetes API answered (or that it did not)."""

# fmt: off
TEXTS: dict[str, tuple[str, str]] = {
    # a recipe as a PyTorchJob (lorastudio.cluster.pytorchjob)
    "cluster.auto_on_cluster": ("is resolved on the machine that runs it, and a cluster is not this machine", "要在运行它的机器上才能确定，而集群不是本机"),
    "cluster.fix.device": ("set hardware.device: cuda or npu, or pass --device cuda|npu", "请设 hardware.device: cuda 或 npu（命令行可用 --device cuda|npu）"),
    "cluster.model_off_claim": ("is a folder on this machine, outside the studio folder, so the pods cannot see it", "是本机上 studio 目录之外的文件夹，pod 看不到它"),
    "cluster.fix.model_on_claim": ("copy it onto the claim (e.g. {path}) and give model.id as models/NAME, or use a hub id", "请把它复制到存储卷上（如 {path}），并把 model.id 写成 models/NAME，或使用模型仓库 id"),
    # talking to the cluster (lorastudio.cluster.kubernetes)
    "cluster.no_client": ("Kubernetes needs the kubernetes client: pip install -e '.[k8s]'", "使用 Kubernetes 需要 kubernetes 客户端：pip install -e '.[k8s]'"),
    "cluster.no_kubeconfig": ("no Kubernetes cluster is configured ({reason})", "没有配置 Kubernetes 集群（{reason}）"),
    "cluster.fix.kubeconfig": ("put a kubeconfig at ~/.kube/config or point KUBECONFIG at one (`kubectl config current-context` must work), or render the manifest without --submit and apply it with kubectl", "请把 kubeconfig 放在 ~/.kube/config，或用 KUBECONFIG 指向它（`kubectl config current-context` 须能运行）；也可以不加 --submit 生成清单（或在工作室下载清单），再用 kubectl apply 提交"),
    "cluster.bad_timeout": ("{name}={value} is not a number of seconds above 0", "{name}={value} 不是大于 0 的秒数"),
    "cluster.fix.timeout": ("unset it or give e.g. 30", "请删除该变量，或设为如 30"),
    "cluster.timeout": ("the Kubernetes API server at {server} did not answer within {seconds} s when asked to {what}", "{server} 上的 Kubernetes API 服务器在 {seconds} 秒内没有应答（请求：{what}）"),
    "cluster.fix.timeout_more": ("check the cluster is up and your kubeconfig's context (or allow more time with {name}=SECONDS)", "请确认集群在运行，并检查 kubeconfig 的上下文（或用 {name}=秒数 放宽时限）"),
    "cluster.unreachable": ("cannot reach the Kubernetes API server at {server} to {what} ({reason})", "无法连接 {server} 上的 Kubernetes API 服务器来{what}（{reason}）"),
    "cluster.fix.check_cluster": ("check the cluster is up and your kubeconfig's context", "请确认集群在运行，并检查 kubeconfig 的上下文"),
    "cluster.no_operator": ("the cluster at {server} has no PyTorchJob resource (kubeflow.org/v1), so it cannot {what}", "{server} 上的集群没有 PyTorchJob 资源（kubeflow.org/v1），因此无法{what}"),
    "cluster.fix.operator": ("install the Kubeflow Training Operator (v1.9) there", "请在那里安装 Kubeflow Training Operator（v1.9）"),
    "cluster.refused": ("the cluster at {server} refused to {what} ({status} {reason})", "{server} 上的集群拒绝{what}（{status} {reason}）"),
    "cluster.fix.rights": ("your kubeconfig user needs the right to create pytorchjobs and configmaps in that namespace", "你的 kubeconfig 用户需要在该命名空间创建 pytorchjobs 和 configmaps 的权限"),
    "cluster.already_exists": ("cannot {what}: it already exists ({reason})", "无法{what}：它已经存在（{reason}）"),
    "cluster.fix.exists": ("delete it or render a new run", "请先删除它，或重新生成一次新的运行"),
    "cluster.failed": ("the cluster at {server} could not {what}: {status} {reason}", "{server} 上的集群未能{what}：{status} {reason}"),
    "cluster.what.create_job": ("create the pytorchjob", "创建 PyTorchJob"),
    "cluster.what.create_config_map": ("create the configmap", "创建 ConfigMap"),
    "cluster.what.delete_job": ("delete the pytorchjob", "删除 PyTorchJob"),
    "cluster.what.read_job": ("read the pytorchjob", "读取 PyTorchJob"),
    "cluster.what.read_log": ("read the master pod's log", "读取主节点 pod 的日志"),
}
# fmt: on
