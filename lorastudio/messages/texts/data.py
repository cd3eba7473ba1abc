"""What the core says about training data, in English and Chinese: the data folder and its
dataset_info.json, registered datasets and local files, a file's record layout, and fetching
LLaMA-Factory's demo data."""

# fmt: off
TEXTS: dict[str, tuple[str, str]] = {
    # the data folder's registry (lorastudio.workspace)
    "error.registry_invalid": ("{path} is not valid JSON ({reason})", "{path} 不是合法的 JSON（{reason}）"),
    "error.registry_not_object": ("{path} must hold a JSON object of datasets", "{path} 应为一个描述数据集的 JSON 对象"),
    "fix.registry": (
        "fix it or point LORASTUDIO_DATA_DIR at another data folder",
        "请修正它，或把 LORASTUDIO_DATA_DIR 指向另一个数据目录",
    ),
    # a recipe's data (lorastudio.checks.validation, lorastudio.checks.preflight)
    "problem.not_registered": ("is not registered in {path}", "没有在 {path} 中注册"),
    "fix.register": (
        "add it to that dataset_info.json, list a local file under data.files instead, or set LORASTUDIO_DATA_DIR to the folder that registers it (e.g. LLaMA-Factory's data/)",
        "请把它加入该 dataset_info.json，或改在 data.files 中列出本地文件，或把 LORASTUDIO_DATA_DIR 设为注册了它的目录（如 LLaMA-Factory 的 data/）",
    ),
    "problem.outside_data": ("points outside the data folder ({path})", "指向数据目录（{path}）之外"),
    "fix.inside_data": (
        "put the file inside the data folder and give its path relative to it",
        "请把文件放进数据目录，并写相对于数据目录的路径",
    ),
    "problem.not_a_file": ("is not a file ({path})", "不是文件（{path}）"),
    "fix.check_name": ("check the name; paths are relative to the data folder", "请检查文件名；路径相对于数据目录"),
    "problem.not_data": ("is not a data file LLaMA-Factory reads", "不是 LLaMA-Factory 能读取的数据文件"),
    "fix.use_one_of": ("use one of {choices}", "请使用以下之一：{choices}"),
    "problem.file_missing": ("is registered as {name}, but {path} does not exist", "注册为 {name}，但 {path} 不存在"),
    "fix.demo_data": (
        "run python launch.py demo-data, which fetches LLaMA-Factory's demo data there",
        "运行 python launch.py demo-data，它会把 LLaMA-Factory 的示例数据下载到那里",
    ),
    "fix.copy_data": (
        "copy the file there or set LORASTUDIO_DATA_DIR to the folder that has it",
        "请把文件复制到那里，或把 LORASTUDIO_DATA_DIR 设为包含它的目录",
    ),
    # a data file's first record (lorastudio.data.layout)
    "problem.layout": ("is not in the {layout} layout: {wrong}", "不是 {layout} 格式：{wrong}"),
    "data.not_objects": (
        "its records are not JSON objects (the first is {kind})",
        "其中的记录不是 JSON 对象（第一条是 {kind}）",
    ),
    "data.record_lacks": (
        "its first record has no {missing} (it has: {has})",
        "第一条记录没有 {missing}（它有：{has}）",
    ),
    "data.no_keys": ("nothing", "什么都没有"),
    "data.not_turns": (
        "its first record's conversations is not a list of turns",
        "第一条记录的 conversations 不是由对话轮组成的列表",
    ),
    "data.turn_lacks": (
        "its first record has a turn without from and value",
        "第一条记录中有一轮对话缺少 from 和 value",
    ),
    "fix.alpaca_layout": (
        'write each record as {{"instruction": …, "input": …, "output": …}}, or set data.format: sharegpt for conversations',
        '请把每条记录写成 {{"instruction": …, "input": …, "output": …}}，多轮对话则设置 data.format: sharegpt',
    ),
    "fix.sharegpt_layout": (
        'write each record as {{"conversations": [{{"from": "human", "value": …}}, {{"from": "gpt", "value": …}}]}}, or set data.format: alpaca',
        '请把每条记录写成 {{"conversations": [{{"from": "human", "value": …}}, {{"from": "gpt", "value": …}}]}}，或设置 data.format: alpaca',
    ),
    # LLaMA-Factory's demo data (lorastudio.data.demo)
    "error.demo_unreadable": ("cannot read {path} ({reason})", "无法读取 {path}（{reason}）"),
    "fix.demo_folder": (
        "give --from a folder that has LLaMA-Factory's {file} (its repository's data/ folder)",
        "请让 --from 指向包含 LLaMA-Factory 的 {file} 的目录（其仓库中的 data/ 目录）",
    ),
    "error.demo_bad_source": ("{source} is not an http(s) address or a folder", "{source} 既不是 http(s) 地址，也不是目录"),
    "fix.demo_give_source": ("give one", "请给出 http(s) 地址或目录"),
    "error.download": ("cannot download {url} ({reason})", "无法下载 {url}（{reason}）"),
    "fix.download": (
        "check the connection, or take the files from a mirror of LLaMA-Factory's data/ or a folder that has them (--from, or LORASTUDIO_DEMO_DATA_FROM for the studio)",
        "请检查网络，或从 LLaMA-Factory data/ 的镜像或包含这些文件的目录获取（命令行用 --from，studio 用 LORASTUDIO_DEMO_DATA_FROM）",
    ),
    "error.demo_too_big": ("{url} is larger than {limit} MiB; it is not {file}", "{url} 大于 {limit} MiB；它不是 {file}"),
    "fix.demo_registry": ("repair it, then run this again", "请先修好它，再重新运行"),
    "error.not_lf_file": (
        "{file} from {source} is not LLaMA-Factory v0.9.5's (SHA-256 {got}…, expected {expected}…); nothing was written",
        "来自 {source} 的 {file} 与 LLaMA-Factory v0.9.5 发布的文件不一致（SHA-256 为 {got}…，应为 {expected}…）；没有写入任何文件",
    ),
    "fix.other_source": ("use another source", "请换一个来源"),
}
# fmt: on
