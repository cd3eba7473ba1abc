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
    # where in a file
    "data.at_row": ("row {row}", "第 {row} 条"),
    "data.at_row_line": ("row {row} (line {line})", "第 {row} 条（第 {line} 行）"),
    "data.problems": ("{file} has {count} problems; nothing was added:", "{file} 有 {count} 个问题，未添加任何内容："),
    "data.problem_one": ("{file} has {count} problem; nothing was added:", "{file} 有 {count} 个问题，未添加任何内容："),
    "data.more_problems": ("and {count} more rows with problems", "另有 {count} 条记录有问题"),
    # reading a file
    "data.unknown_type": ("{file} is not a data file LLaMA-Factory reads (its extension is {suffix})", "{file} 不是 LLaMA-Factory 能读取的数据文件（扩展名为 {suffix}）"),
    "data.not_utf8": ("line {line} is not valid UTF-8 text (byte 0x{byte})", "第 {line} 行不是有效的 UTF-8 文本（字节 0x{byte}）"),
    "data.not_json": ("line {line} is not JSON: {reason}", "第 {line} 行不是 JSON：{reason}"),
    "data.csv_width": ("line {line} has {found} fields, the header has {expected}", "第 {line} 行有 {found} 个字段，而表头有 {expected} 个"),
    "data.not_parquet": ("{file} cannot be read as Parquet: {reason}", "{file} 无法按 Parquet 读取：{reason}"),
    "data.empty": ("the file has no records", "文件中没有任何记录"),
    # recognising a layout
    "data.unknown_layout": ("its first record looks like no layout LoRA Studio knows (it has: {columns})", "第一条记录不像 LoRA Studio 认识的任何格式（它有：{columns}）"),
    "data.bad_format": ("{format} is not a data layout", "{format} 不是一种数据格式"),
    # one row
    "data.not_object": ("{at} is a {kind}, not an object of fields", "{at} 是 {kind}，不是由字段组成的对象"),
    "data.mixed": ("{at} is in the {found} layout, but the file is {expected}", "{at}是 {found} 格式，而文件是 {expected} 格式"),
    "data.no_column": ("{at} has no {column} (it has: {has})", "{at} 没有 {column}（它有：{has}）"),
    "data.file_no_column": ("the file has no column {column} (it has: {has})", "文件中没有 {column} 列（它有：{has}）"),
    "data.not_text": ("{at}: {column} is not text", "{at}：{column} 不是文本"),
    "data.empty_turn": ("{at}: the {role} is empty, a turn without content", "{at}：{role} 为空，这一轮没有内容"),
    "data.no_answer": ("{at}: {column} is empty, so there is no assistant turn to learn", "{at}：{column} 为空，没有可学习的助手回复"),
    "data.bad_history": ("{at}: {column} is not a list of [question, answer] pairs of text", "{at}：{column} 不是由 [问题, 回答] 文本对组成的列表"),
    "data.no_turns": ("{at}: {column} is not a list of turns", "{at}：{column} 不是由多轮对话组成的列表"),
    "data.turn_no_role": ("{at}, turn {turn} has no {field}", "{at}的第 {turn} 轮没有 {field}"),
    "data.unknown_role": ("{at}, turn {turn}: the role {role} is none of the mapped roles ({roles})", "{at}的第 {turn} 轮：角色 {role} 不在映射的角色中（{roles}）"),
    "data.empty_turn_n": ("{at}, turn {turn} ({role}) has no content", "{at}的第 {turn} 轮（{role}）没有内容"),
    "data.role_order": ("{at}, turn {turn} is {role}, where {expected} should speak (roles out of order)", "{at}的第 {turn} 轮是 {role}，这里应是 {expected}（角色顺序不对）"),
    "data.no_assistant": ("{at}: the conversation has no assistant turn", "{at}：这段对话没有助手回复"),
    "data.ends_unanswered": ("{at}: the conversation ends with a user turn that has no answer", "{at}：这段对话以用户发言结尾，没有回答"),
    "data.tool_calls": ("{at}, turn {turn} calls tools (tool_calls), which LLaMA-Factory's sharegpt reader does not take", "{at}的第 {turn} 轮调用了工具（tool_calls），LLaMA-Factory 的 sharegpt 读取器不支持"),
    "data.tools_not_text": ("{at}: {column} is not a JSON string", "{at}：{column} 不是 JSON 字符串"),
    # notes that do not stop a file
    "data.duplicates": ("{count} rows repeat an earlier row (the first: row {row} repeats row {first})", "{count} 条记录与前面的记录重复（第一处：第 {row} 条重复第 {first} 条）"),
    "data.blank_texts": ("{count} texts are empty; LLaMA-Factory trains each as a bare end-of-text", "{count} 条文本为空；LLaMA-Factory 会把每条都当作只有结束符的样本来训练"),
    # adding, finding, removing
    "data.too_large": ("{file} is {size}, larger than the limit of {limit}", "{file} 大小为 {size}，超过了 {limit} 的上限"),
    "data.bad_name": ("'{name}' cannot name a dataset", "'{name}' 不能用作数据集名称"),
    "data.name_taken": ("a dataset named '{name}' is already registered", "已经注册了名为 '{name}' 的数据集"),
    "data.not_registered": ("no dataset named '{name}' is registered in {registry}", "{registry} 中没有注册名为 '{name}' 的数据集"),
    "data.in_use": ("dataset '{name}' is used by the live run {run}", "数据集 '{name}' 正被运行中的 {run} 使用"),
    "data.not_a_file": ("dataset '{name}' is not a single file in the data folder", "数据集 '{name}' 不是数据目录中的单个文件"),
    "data.hash_differs": ("the recipe names {name} with hash {pinned}, but the file registered as {name} has hash {found}", "配方指定的 {name} 的哈希是 {pinned}，但注册为 {name} 的文件哈希是 {found}"),
    "data.bad_ref": ("'{ref}' is not a dataset name or name@hash", "'{ref}' 不是数据集名称，也不是 名称@哈希"),
    "data.plain_text_in_sft": ("is plain text (for continued pre-training), which train.stage sft does not learn from", "是纯文本（用于继续预训练），train.stage 为 sft 时无法用它训练"),
    "data.chat_in_pt": ("is {format} data, but train.stage pt trains on plain text only", "是 {format} 数据，而 train.stage 为 pt 时只能用纯文本训练"),
    # bundles
    "data.bad_archive": ("{file} is not a LoRA Studio data archive: {reason}", "{file} 不是 LoRA Studio 数据包：{reason}"),
    "data.archive_hash": ("{file} in the archive has hash {found}, not {expected}", "数据包中的 {file} 哈希为 {found}，而不是 {expected}"),
    # the preview
    "data.no_tokenizer": ("the model's tokenizer ({model}) is not on this machine, so rows are shown as turns, not rendered, and tokens are not counted", "本机没有该模型的分词器（{model}），因此只按对话轮次显示，不做模板渲染，也不统计 token"),
    "data.render_failed": ("LLaMA-Factory could not render the rows: {reason}", "LLaMA-Factory 无法渲染这些记录：{reason}"),
    "data.report_row": ("row {row}, {tokens} tokens ([[…]] is trained)", "第 {row} 条，{tokens} 个 token（[[…]] 为训练部分）"),
    "data.report_counts": ("{samples} samples, {tokens} tokens (mean {mean}, p95 {p95}, max {max}); cutoff {cutoff}: {truncated} samples cut, {lost} tokens lost; {dropped} dropped by LLaMA-Factory", "{samples} 条样本，{tokens} 个 token（平均 {mean}，p95 {p95}，最长 {max}）；截断长度 {cutoff}：{truncated} 条被截断，丢失 {lost} 个 token；LLaMA-Factory 丢弃 {dropped} 条"),
    "data.report_first": ("(counted over the first {count} rows)", "（按前 {count} 条统计）"),
    "data.report_cutoff": (" ← cutoff", " ← 截断长度"),
    "data.bad_map": ("--map {pair} is not KEY=VALUE with a key of {keys}", "--map {pair} 不是 KEY=VALUE 形式，或键不在 {keys} 之中"),
    "data.export_what": ("nothing to export", "没有要导出的内容"),
    # fixes
    "fix.data_types": ("save it as one of {types}", "请另存为以下格式之一：{types}"),
    "fix.save_utf8": ("save the file as UTF-8 (most editors offer it under Save As)", "请把文件另存为 UTF-8 编码（多数编辑器在“另存为”中提供）"),
    "fix.json_layout": ("write a JSON list of objects, or one JSON object per line (JSON Lines)", "请写成由对象组成的 JSON 列表，或每行一个 JSON 对象（JSON Lines）"),
    "fix.csv_quote": ("quote fields that hold commas or line breaks, and give every line as many fields as the header", "含逗号或换行的字段请加引号，并让每行的字段数与表头相同"),
    "fix.parquet": ("export it again as Parquet, or save it as JSON Lines or CSV", "请重新导出为 Parquet，或另存为 JSON Lines 或 CSV"),
    "fix.empty": ("add records to the file (one example per row)", "请在文件中加入记录（每条一个样本）"),
    "fix.pick_format": ("choose the layout (alpaca, sharegpt, openai or text) and map the columns", "请选择格式（alpaca、sharegpt、openai 或 text）并映射列"),
    "fix.one_layout": ("keep one layout in a file: convert that row, or split the file", "一个文件只用一种格式：请转换该记录，或拆分文件"),
    "fix.map_column": ("map the column the file uses, or add it to every row", "请映射文件实际使用的列，或在每条记录中补上该列"),
    "fix.text_value": ("write it as text (in quotes)", "请写成文本（加引号）"),
    "fix.fill_turn": ("write the text of that turn, or remove the row", "请补上这一轮的文本，或删除该记录"),
    "fix.history": ("write it as [[\"question\", \"answer\"], …], or unmap the history column", "请写成 [[\"问题\", \"回答\"], …]，或取消映射历史列"),
    "fix.turns": ("write the conversation as a list of turns, each with a role and its text", "请把对话写成多轮列表，每轮带角色和文本"),
    "fix.map_roles": ("map the role words the file uses (user, assistant, system), or correct the row", "请映射文件实际使用的角色词（用户、助手、系统），或修正该记录"),
    "fix.role_order": ("after an optional system turn, alternate user and assistant turns, starting with the user", "在可选的系统发言之后，用户与助手交替发言，由用户开始"),
    "fix.add_assistant": ("end the conversation with the assistant's answer, or remove the row", "请以助手的回答结束这段对话，或删除该记录"),
    "fix.tools": ("write tool definitions as one JSON string per row and leave tool calls out", "请把工具定义写成每条一个 JSON 字符串，并去掉工具调用"),
    "fix.duplicates": ("remove the repeats if they were not meant to weigh more", "如果不是有意加重这些样本，请删除重复的记录"),
    "fix.blank_texts": ("remove the empty lines", "请删除空行"),
    "fix.too_large": ("split the file, or start the studio with LORASTUDIO_MAX_UPLOAD_MB={mb} or more", "请拆分文件，或以 LORASTUDIO_MAX_UPLOAD_MB={mb} 或更大的值启动工作室"),
    "fix.data_name": ("use up to 64 characters without spaces, commas, @ or slashes, not starting with . or -", "请使用不超过 64 个字符，不含空格、逗号、@ 或斜杠，且不以 . 或 - 开头"),
    "fix.name_taken": ("pick another name, or remove the registered one first (data remove NAME)", "请换一个名称，或先删除已注册的那个（data remove NAME）"),
    "fix.data_add": ("add the file with: python launch.py data add FILE --name NAME, or import the archive a teammate exported (data import ARCHIVE)", "请用 python launch.py data add FILE --name NAME 添加文件，或导入队友导出的数据包（data import ARCHIVE）"),
    "fix.wait_run": ("stop the run or wait until it ends, then remove the dataset", "请停止该运行或等它结束，再删除数据集"),
    "fix.hash_differs": ("if the new file is intended, write {name}@{found} in the recipe; else get the data the recipe was written for (data import)", "如果确实要用新文件，请在配方中写 {name}@{found}；否则请取得配方所用的那份数据（data import）"),
    "fix.ref": ("write a registered name, or name@ and the first 12 hex digits of its SHA-256", "请写已注册的名称，或 名称@ 加上其 SHA-256 的前 12 位十六进制数字"),
    "fix.stage_pt": ("set train.stage: pt for continued pre-training, or use a conversation dataset", "继续预训练请设置 train.stage: pt，否则请使用对话数据集"),
    "fix.stage_sft": ("set train.stage: sft, or use a plain-text dataset", "请设置 train.stage: sft，或使用纯文本数据集"),
    "fix.export_what": ("name the datasets (data export NAME …) or a recipe (data export --recipe RECIPE)", "请给出数据集名称（data export NAME …）或配方（data export --recipe RECIPE）"),
    "fix.archive": ("export it again with python launch.py data export NAME", "请用 python launch.py data export NAME 重新导出"),
    "fix.tokenizer": ("download the model, or point model.id at a folder that has its tokenizer.json", "请下载该模型，或把 model.id 指向含有 tokenizer.json 的目录"),
}
# fmt: on
